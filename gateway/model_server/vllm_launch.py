"""The ``vllm serve`` command for a model and its LoRA adapters, and vLLM's CPU settings.

The same arguments serve the embedded SmolLM2 (its GGUF converted once to safetensors,
as the transformers engine does) on a CPU and a 7B base on a GPU; only the sizes and
``--dtype`` differ. The command runs in vLLM's own environment (vllm_env.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gateway.engines.base import EngineError
from gateway.engines.loading import convert_gguf, default_cache_dir, resolve_model_reference

# The adapters `training/` ships with the embedded default.
SHIPPED_ADAPTERS = ("bpo", "aligner")
# vLLM accepts only these LoRA ranks for --max-lora-rank.
_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


class VllmServeOptions(BaseModel):
    """What ``vllm serve`` needs to serve a base model and its adapters."""

    model_config = ConfigDict(extra="forbid")

    model_dir: Path = Field(description="A Hugging Face model directory (safetensors).")
    adapters: dict[str, Path] = Field(default_factory=dict, description="LoRA name -> PEFT dir.")
    served_model_name: str = "smollm2"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Small on a CPU: the KV cache is sized from VLLM_CPU_KVCACHE_SPACE, and a stage
    # prompt plus its answer fits in 2048 tokens.
    max_model_len: int = Field(default=2048, ge=64)
    max_num_seqs: int = Field(default=16, ge=1)
    # float32 matches the in-process engine's dequantised weights, so greedy answers
    # can be compared token for token.
    dtype: str = "float32"


def serve_arguments(options: VllmServeOptions) -> list[str]:
    """The arguments after ``vllm serve``."""
    args = [
        str(options.model_dir),
        "--dtype",
        options.dtype,
        "--max-model-len",
        str(options.max_model_len),
        "--max-num-seqs",
        str(options.max_num_seqs),
        "--host",
        options.host,
        "--port",
        str(options.port),
    ]
    if options.adapters:
        args += ["--enable-lora", "--lora-modules"]
        args += [f"{name}={path}" for name, path in options.adapters.items()]
        args += ["--max-loras", str(len(options.adapters))]
        args += ["--max-lora-rank", str(max_lora_rank(options.adapters))]
    # Last, so a log named after the final argument is named after the model.
    return [*args, "--served-model-name", options.served_model_name]


def max_lora_rank(adapters: Mapping[str, Path]) -> int:
    """The smallest rank vLLM accepts that holds every adapter's ``r``."""
    largest = max(_adapter_rank(path) for path in adapters.values())
    for rank in _LORA_RANKS:
        if rank >= largest:
            return rank
    raise EngineError(f"LoRA rank {largest} is above vLLM's largest ({_LORA_RANKS[-1]})")


def _adapter_rank(path: Path) -> int:
    try:
        config = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
        return int(config["r"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EngineError(f"{path} is not a PEFT LoRA adapter: {error}") from error


def cpu_environment(kv_cache_gib: int = 1, threads: str = "nobind") -> dict[str, str]:
    """vLLM-CPU's settings for a small shared host.

    The KV cache is reserved up front (vLLM's default is 4 GiB); binding OpenMP threads
    to cores (its default, ``auto``) pins them to cores other processes also use, so
    they are left to the scheduler. Idle threads sleep rather than spin, as for torch.
    """
    return {
        "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib),
        "VLLM_CPU_OMP_THREADS_BIND": threads,
        "OMP_WAIT_POLICY": "PASSIVE",
        # Nothing may reach a model hub: the weights and adapters are local files.
        "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }


def embedded_model_dir(cache_dir: Path | None = None) -> Path:
    """The embedded SmolLM2 as a safetensors directory vLLM can load (converted once)."""
    directory, gguf_file = resolve_model_reference("embedded:smollm2")
    assert gguf_file is not None  # the embedded model is always the packaged GGUF
    return convert_gguf(directory, gguf_file, cache_dir or default_cache_dir())


def shipped_adapters() -> dict[str, Path]:
    """The BPO and Aligner LoRA adapters shipped in gateway/defaults/adapters."""
    root = Path(__file__).resolve().parents[1] / "defaults" / "adapters"
    return {name: root / name for name in SHIPPED_ADAPTERS}
