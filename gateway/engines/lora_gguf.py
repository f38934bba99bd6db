"""Convert a PEFT LoRA adapter (safetensors) into the GGUF LoRA adapter llama.cpp loads.

llama.cpp names the base model's tensors its own way (``blk.3.attn_q.weight``) and
stores the query and key projections of llama-family models with their rows
permuted for its rotary embedding, so an adapter trained on the Hugging Face layout
must follow both: each ``lora_A`` / ``lora_B`` pair becomes ``<gguf name>.lora_a`` /
``.lora_b`` and the ``lora_B`` rows of q and k are permuted the same way (``lora_A``
reads the unpermuted input, so it stays). The numbers themselves are copied as they
are (float16 in, float16 out), and llama.cpp scales by ``alpha / rank`` like PEFT.

The conversion runs once per adapter content into the user's cache
(``~/.cache/aligngate/lora-gguf``), shared by every virtual environment.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.engines.base import EngineError
from gateway.engines.cache_file import write_atomically
from gateway.engines.gguf_header import read_gguf_scalars

# Bump when the output of the converter changes, so cached files are rebuilt.
CONVERTER_VERSION = 1
SUPPORTED_ARCHITECTURES = ("llama",)
# Hugging Face module path inside a decoder layer -> llama.cpp tensor name.
_TENSOR_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_PEFT_NAME = re.compile(
    r"^base_model\.model\.model\.layers\.(\d+)\.((?:self_attn|mlp)\.\w+)\.lora_([AB])\.weight$"
)


@dataclass(frozen=True)
class BaseModelShape:
    """What the conversion needs to know about the base model."""

    architecture: str
    n_head: int
    n_head_kv: int

    @classmethod
    def of_gguf(cls, path: Path) -> BaseModelShape:
        """Read the architecture and head counts from a base model's GGUF header."""
        header = read_gguf_scalars(path)
        architecture = str(header.get("general.architecture", ""))
        if architecture not in SUPPORTED_ARCHITECTURES:
            raise EngineError(
                f"LoRA conversion supports {SUPPORTED_ARCHITECTURES}, not {architecture!r}"
            )
        n_head = int(header[f"{architecture}.attention.head_count"])
        n_head_kv = int(header.get(f"{architecture}.attention.head_count_kv", n_head))
        return cls(architecture, n_head, n_head_kv)


def cached_gguf_adapter(adapter: Path, base: BaseModelShape, cache_dir: Path) -> Path:
    """The GGUF form of a PEFT adapter directory, converted once per content into the cache.

    A ``.gguf`` file is already an adapter llama.cpp reads and is returned as is.
    """
    if adapter.suffix == ".gguf" and adapter.is_file():
        return adapter
    config_path, weights_path = _adapter_files(adapter)
    digest = hashlib.sha256()
    for part in (str(CONVERTER_VERSION), repr(base)):
        digest.update(part.encode())
    for path in (config_path, weights_path):
        digest.update(path.read_bytes())
    target = cache_dir / "lora-gguf" / f"{adapter.name}-{digest.hexdigest()[:16]}.gguf"
    if target.is_file():
        return target
    write_atomically(target, lambda staging: convert_peft_lora(adapter, staging, base))
    return target


def convert_peft_lora(adapter: Path, target: Path, base: BaseModelShape) -> None:
    """Write the GGUF LoRA adapter of a PEFT adapter directory to ``target``."""
    import gguf
    from safetensors.numpy import load_file

    config_path, weights_path = _adapter_files(adapter)
    alpha = _gguf_alpha(json.loads(config_path.read_text()))
    tensors = _gguf_tensors(load_file(str(weights_path)), base)
    writer = gguf.GGUFWriter(str(target), base.architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _adapter_files(adapter: Path) -> tuple[Path, Path]:
    config_path = adapter / "adapter_config.json"
    weights_path = adapter / "adapter_model.safetensors"
    if not (config_path.is_file() and weights_path.is_file()):
        raise EngineError(
            f"LoRA adapter {adapter} needs adapter_config.json and adapter_model.safetensors"
        )
    return config_path, weights_path


def _gguf_alpha(config: dict[str, Any]) -> float:
    """The alpha that gives llama.cpp's ``alpha / rank`` the scale PEFT uses."""
    unsupported = {
        "peft_type": config.get("peft_type") != "LORA",
        "use_dora": bool(config.get("use_dora")),
        "fan_in_fan_out": bool(config.get("fan_in_fan_out")),
        "bias": config.get("bias", "none") != "none",
        "alpha_pattern": bool(config.get("alpha_pattern")),
        "modules_to_save": bool(config.get("modules_to_save")),
    }
    if any(unsupported.values()):
        names = [name for name, bad in unsupported.items() if bad]
        raise EngineError(f"LoRA adapter settings not supported by llama.cpp: {names}")
    alpha = float(config["lora_alpha"])
    if config.get("use_rslora"):
        # rsLoRA scales by alpha / sqrt(r); llama.cpp divides by r.
        alpha *= math.sqrt(float(config["r"]))
    return alpha


def _gguf_tensors(weights: dict[str, Any], base: BaseModelShape) -> dict[str, Any]:
    """llama.cpp's name -> array for every lora_A / lora_B tensor, q and k permuted."""
    converted: dict[str, Any] = {}
    for peft_name, array in weights.items():
        match = _PEFT_NAME.match(peft_name)
        if match is None or match.group(2) not in _TENSOR_NAMES:
            raise EngineError(f"LoRA tensor {peft_name!r} has no llama.cpp counterpart")
        layer, module, half = match.groups()
        if half == "B" and module == "self_attn.q_proj":
            array = _permute_rows(array, base.n_head)
        elif half == "B" and module == "self_attn.k_proj":
            array = _permute_rows(array, base.n_head_kv)
        name = f"blk.{layer}.{_TENSOR_NAMES[module]}.weight.lora_{half.lower()}"
        converted[name] = array
    pairs = {name.rsplit(".", 1)[0] for name in converted}
    if len(converted) != 2 * len(pairs):
        raise EngineError("LoRA adapter has an A tensor without its B tensor (or the reverse)")
    return converted


def _permute_rows(array: Any, n_head: int) -> Any:
    """Reorder output rows within each head from [half, half] to interleaved pairs.

    The same reordering llama.cpp's converter applies to a llama model's q and k
    weights (rotary embedding in interleaved layout rather than rotate-half).
    """
    rows = array.shape[0]
    head = rows // n_head
    return (
        array.reshape(n_head, 2, head // 2, *array.shape[1:])
        .swapaxes(1, 2)
        .reshape(array.shape)
        .copy()
    )
