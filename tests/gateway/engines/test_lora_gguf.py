"""Converting PEFT LoRA adapters into llama.cpp's GGUF LoRA adapters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from gateway.engines.base import EngineError
from gateway.engines.loading import embedded_model_path
from gateway.engines.lora_gguf import BaseModelShape, cached_gguf_adapter, convert_peft_lora

SHAPE = BaseModelShape(architecture="llama", n_head=2, n_head_kv=1)
HIDDEN, HEAD_DIM, RANK = 8, 4, 2
PREFIX = "base_model.model.model.layers"


def write_peft_adapter(
    directory: Path, *, seed: int = 0, **config: object
) -> dict[str, np.ndarray]:
    """A PEFT adapter on q, k and down of one layer, with distinct random numbers."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    shapes = {"self_attn.q_proj": (2 * HEAD_DIM, HIDDEN), "self_attn.k_proj": (HEAD_DIM, HIDDEN)}
    shapes["mlp.down_proj"] = (HIDDEN, 16)
    tensors: dict[str, np.ndarray] = {}
    for module, (out, inp) in shapes.items():
        tensors[f"{PREFIX}.0.{module}.lora_A.weight"] = rng.standard_normal((RANK, inp)).astype(
            np.float16
        )
        tensors[f"{PREFIX}.0.{module}.lora_B.weight"] = rng.standard_normal((out, RANK)).astype(
            np.float16
        )
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(directory / "adapter_model.safetensors"))
    settings = {"peft_type": "LORA", "r": RANK, "lora_alpha": 16, "bias": "none", **config}
    (directory / "adapter_config.json").write_text(json.dumps(settings))
    return tensors


def read_adapter(path: Path) -> tuple[dict[str, object], dict[str, npt.NDArray[np.float16]]]:
    import gguf

    reader = gguf.GGUFReader(str(path))
    fields = {name: field.contents() for name, field in reader.fields.items()}
    arrays = {
        tensor.name: np.asarray(tensor.data).reshape(tuple(reversed(tensor.shape.tolist())))
        for tensor in reader.tensors
    }
    return fields, arrays


def test_tensors_get_llama_cpp_names_shapes_and_metadata(tmp_path: Path) -> None:
    peft = write_peft_adapter(tmp_path / "adapter")
    convert_peft_lora(tmp_path / "adapter", tmp_path / "out.gguf", SHAPE)

    fields, arrays = read_adapter(tmp_path / "out.gguf")

    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    assert fields["general.architecture"] == "llama"
    assert fields["adapter.lora.alpha"] == pytest.approx(16.0)
    assert set(arrays) == {
        f"blk.0.{name}.weight.lora_{half}"
        for name in ("attn_q", "attn_k", "ffn_down")
        for half in ("a", "b")
    }
    # lora_a keeps PEFT's (rank, in) rows, lora_b its (out, rank); float16 as trained.
    down_a, down_b = arrays["blk.0.ffn_down.weight.lora_a"], arrays["blk.0.ffn_down.weight.lora_b"]
    assert down_a.dtype == np.float16
    np.testing.assert_array_equal(down_a, peft[f"{PREFIX}.0.mlp.down_proj.lora_A.weight"])
    np.testing.assert_array_equal(down_b, peft[f"{PREFIX}.0.mlp.down_proj.lora_B.weight"])


def test_q_and_k_output_rows_are_permuted_per_head_as_llama_cpp_stores_them(
    tmp_path: Path,
) -> None:
    peft = write_peft_adapter(tmp_path / "adapter")
    convert_peft_lora(tmp_path / "adapter", tmp_path / "out.gguf", SHAPE)
    _, arrays = read_adapter(tmp_path / "out.gguf")

    # Within each head of 4 rows, rotate-half order [0, 1 | 2, 3] becomes [0, 2, 1, 3].
    q_b = peft[f"{PREFIX}.0.self_attn.q_proj.lora_B.weight"]
    expected_q = q_b[[0, 2, 1, 3, 4, 6, 5, 7]]
    np.testing.assert_array_equal(arrays["blk.0.attn_q.weight.lora_b"], expected_q)
    k_b = peft[f"{PREFIX}.0.self_attn.k_proj.lora_B.weight"]  # one KV head
    np.testing.assert_array_equal(arrays["blk.0.attn_k.weight.lora_b"], k_b[[0, 2, 1, 3]])
    q_a = peft[f"{PREFIX}.0.self_attn.q_proj.lora_A.weight"]
    np.testing.assert_array_equal(arrays["blk.0.attn_q.weight.lora_a"], q_a)


def test_rslora_alpha_is_rescaled_for_llama_cpps_alpha_over_rank(tmp_path: Path) -> None:
    write_peft_adapter(tmp_path / "adapter", use_rslora=True, r=4)
    convert_peft_lora(tmp_path / "adapter", tmp_path / "out.gguf", SHAPE)
    fields, _ = read_adapter(tmp_path / "out.gguf")
    # PEFT scales by 16 / sqrt(4) = 8; llama.cpp by alpha / rank, so alpha = 8 * 2 (rank 2).
    assert fields["adapter.lora.alpha"] == pytest.approx(16.0 * 2.0)


@pytest.mark.parametrize(
    "setting", [{"use_dora": True}, {"fan_in_fan_out": True}, {"alpha_pattern": {"q_proj": 4}}]
)
def test_settings_llama_cpp_cannot_express_are_refused(
    tmp_path: Path, setting: dict[str, Any]
) -> None:
    write_peft_adapter(tmp_path / "adapter", **setting)
    with pytest.raises(EngineError, match="not supported"):
        convert_peft_lora(tmp_path / "adapter", tmp_path / "out.gguf", SHAPE)


def test_conversion_is_cached_per_content(tmp_path: Path) -> None:
    write_peft_adapter(tmp_path / "adapter")
    cache = tmp_path / "cache"

    first = cached_gguf_adapter(tmp_path / "adapter", SHAPE, cache)
    stamp = first.stat().st_mtime_ns
    again = cached_gguf_adapter(tmp_path / "adapter", SHAPE, cache)
    write_peft_adapter(tmp_path / "adapter", seed=1)  # retrained in place
    changed = cached_gguf_adapter(tmp_path / "adapter", SHAPE, cache)

    assert again == first and again.stat().st_mtime_ns == stamp
    assert changed != first and changed.is_file()
    assert sorted(p.name for p in (cache / "lora-gguf").iterdir()) == sorted(
        [first.name, changed.name]
    )  # no staging file left behind


def test_a_gguf_adapter_file_is_used_as_it_is(tmp_path: Path) -> None:
    ready = tmp_path / "ready.gguf"
    ready.write_bytes(b"GGUF")
    assert cached_gguf_adapter(ready, SHAPE, tmp_path / "cache") == ready


def test_the_shipped_adapters_convert_for_the_embedded_model(tmp_path: Path) -> None:
    shape = BaseModelShape.of_gguf(embedded_model_path())
    adapters = Path(__file__).parents[3] / "gateway" / "defaults" / "adapters"

    path = cached_gguf_adapter(adapters / "aligner", shape, tmp_path)
    fields, arrays = read_adapter(path)

    assert shape == BaseModelShape("llama", 9, 3)
    assert len(arrays) == 30 * 7 * 2  # every layer, seven projections, A and B
    assert arrays["blk.29.attn_k.weight.lora_b"].shape == (192, 8)
    assert fields["adapter.lora.alpha"] == pytest.approx(16.0)
