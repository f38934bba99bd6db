"""Reading a GGUF header's scalar metadata without its vocabulary arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.engines.base import EngineError
from gateway.engines.gguf_header import read_gguf_scalars
from gateway.engines.loading import embedded_model_path


def write_gguf(path: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(3)
    writer.add_head_count(9)
    writer.add_float32("llama.rope.freq_base", 100000.0)
    writer.add_bool("tokenizer.ggml.add_bos_token", False)
    writer.add_token_list(["<s>", "hello", "wörld"])  # an array of strings, skipped
    writer.add_array("some.numbers", [1, 2, 3])  # an array of ints, skipped
    writer.add_string("general.name", "tiny")
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((2, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_scalars_are_read_and_arrays_skipped(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    write_gguf(path)

    header = read_gguf_scalars(path)

    assert header["general.architecture"] == "llama"
    assert header["llama.block_count"] == 3
    assert header["llama.attention.head_count"] == 9
    assert header["llama.rope.freq_base"] == pytest.approx(100000.0)
    assert header["tokenizer.ggml.add_bos_token"] is False
    assert header["general.name"] == "tiny"  # read after both arrays
    assert "tokenizer.ggml.tokens" not in header and "some.numbers" not in header


def test_the_embedded_model_header_gives_its_shape() -> None:
    header = read_gguf_scalars(embedded_model_path())
    assert header["general.architecture"] == "llama"
    assert (header["llama.attention.head_count"], header["llama.attention.head_count_kv"]) == (
        9,
        3,
    )


def test_a_file_that_is_not_gguf_is_an_engine_error(tmp_path: Path) -> None:
    path = tmp_path / "not.gguf"
    path.write_bytes(b"PK\x03\x04 nothing here")
    with pytest.raises(EngineError, match="not a GGUF file"):
        read_gguf_scalars(path)


def test_a_truncated_header_is_an_engine_error(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    write_gguf(path)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(path.read_bytes()[:60])
    with pytest.raises(EngineError, match="ends inside"):
        read_gguf_scalars(cut)
