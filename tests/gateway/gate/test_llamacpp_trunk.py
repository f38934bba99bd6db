"""The llama.cpp trunk: its cut GGUF, its byte limits, and vectors from the real model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gateway.engines.base import EngineError
from gateway.engines.loading import embedded_model_path
from gateway.gate.llamacpp_trunk import MAX_BYTES, LlamaCppTrunk, cut_utf8
from gateway.gate.trunk_gguf import cached_trunk_gguf, write_first_blocks
from tests.support.processes import ROOT

pytest.importorskip("xllamacpp")
gguf = pytest.importorskip("gguf")


def test_a_cut_keeps_whole_characters_within_the_byte_limit() -> None:
    assert cut_utf8("short") == "short"
    text = "é" * 10  # two bytes each
    assert cut_utf8(text, 5) == "éé"
    assert len(cut_utf8("🎉" * 1000).encode()) <= MAX_BYTES
    assert cut_utf8("a" * 2000) == "a" * MAX_BYTES


def _blocks(path: Path) -> tuple[int, set[int]]:
    reader = gguf.GGUFReader(path)
    count = int(reader.fields["llama.block_count"].contents())
    blocks = {int(t.name.split(".")[1]) for t in reader.tensors if t.name.startswith("blk.")}
    return count, blocks


def test_the_cut_model_holds_only_the_first_blocks_and_is_written_once(tmp_path: Path) -> None:
    source = embedded_model_path()
    path = cached_trunk_gguf(source, 15, tmp_path)
    assert _blocks(path) == (15, set(range(15)))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    written = path.stat().st_mtime_ns
    assert cached_trunk_gguf(source, 15, tmp_path) == path
    assert path.stat().st_mtime_ns == written
    with pytest.raises(EngineError, match="has 30 blocks"):
        write_first_blocks(source, 31, tmp_path / "too-many.gguf")


@pytest.fixture(scope="module")
def trunk(tmp_path_factory: pytest.TempPathFactory) -> LlamaCppTrunk:
    loaded = LlamaCppTrunk(cache_dir=tmp_path_factory.mktemp("cache"))
    loaded.load()
    return loaded


def test_a_text_gets_the_same_vector_alone_or_in_a_batch(trunk: LlamaCppTrunk) -> None:
    texts = ["User: How do tides work?", "User: " + "long question " * 200, "User: héllo 你好"]
    together = trunk.encode(texts)
    assert together.shape == (3, 576)
    assert np.isfinite(together).all()
    # Exactly: batched with others, llama.cpp's kernels came out up to 0.2 off.
    for row, text in zip(together, texts, strict=True):
        np.testing.assert_array_equal(trunk.encode([text])[0], row)
    assert not np.allclose(together[0], together[2], atol=1e-2)


def test_a_text_past_the_limit_is_read_up_to_it(trunk: LlamaCppTrunk) -> None:
    head = "User: " + "a sentence about the sea. " * 60
    assert len(head.encode()) > MAX_BYTES
    longer = trunk.encode([head + " and then something else entirely " * 50])
    np.testing.assert_array_equal(longer[0], trunk.encode([cut_utf8(head)])[0])


def test_llama_cpp_tokenises_as_the_models_own_tokenizer(trunk: LlamaCppTrunk) -> None:
    """The trunk passes text; the vectors equal those of the Hugging Face tokenizer's ids."""
    transformers = pytest.importorskip("transformers")
    from gateway.engines.loading import convert_gguf, default_cache_dir, resolve_model_reference

    directory, name = resolve_model_reference("embedded:smollm2")
    assert name is not None
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        convert_gguf(directory, name, default_cache_dir())
    )
    texts = ["User: how do I kill a stuck process?", "User: héllo <|im_start|> 🎉\t\tx  y"]
    ids = [tokenizer(text)["input_ids"] for text in texts]
    by_ids = trunk._server.handle_embeddings({"input": ids})["data"]
    by_text = trunk.encode(texts)
    for item in by_ids:
        np.testing.assert_allclose(by_text[item["index"]], item["embedding"], atol=1e-4)


def test_the_trunk_runs_without_torch_or_transformers(tmp_path: Path) -> None:
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from gateway.gate.llamacpp_trunk import LlamaCppTrunk\n"
        f"t = LlamaCppTrunk(cache_dir=Path({str(tmp_path)!r}))\n"
        "rows = t.encode(['User: hi'])\n"
        "print(json.dumps([rows.shape[1], 'torch' in sys.modules, 'transformers' in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [576, False, False]
    assert out.stderr == ""  # llama.cpp's own log lines stay off the console


def test_a_trunk_closed_right_after_it_loads_does_not_hang(tmp_path: Path) -> None:
    script = (
        "from pathlib import Path\n"
        "from gateway.gate.llamacpp_trunk import LlamaCppTrunk\n"
        "for _ in range(8):\n"
        f"    t = LlamaCppTrunk(cache_dir=Path({str(tmp_path)!r}))\n"
        "    t.load()\n"
        "    t.close()\n"
        "print('closed')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "closed"
