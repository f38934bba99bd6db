"""The engine seam: one small async interface for the small rewriting models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, model_validator


class ChatTurn(BaseModel):
    """One message of a chat-formatted generation request."""

    role: Literal["system", "user", "assistant"]
    content: str


class GenerationRequest(BaseModel):
    """What a stage asks an engine to generate.

    Exactly one of ``prompt`` (raw text, used as is) or ``messages`` (formatted by
    the model's own chat template, on the engine side) is set.
    """

    prompt: str | None = None
    messages: list[ChatTurn] | None = None
    adapter: str | None = Field(
        default=None, description="LoRA adapter name; None means the base model."
    )
    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_input(self) -> GenerationRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("set exactly one of 'prompt' or 'messages'")
        return self


class GenerationResult(BaseModel):
    """The text an engine generated for one request, with token counts."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: Literal["stop", "length"] = "stop"


# What an engine's stream yields: the text piece by piece as it is generated, then one
# result for the whole generation (its token counts and finish reason), which every
# engine of this package sends last; a stream that ends without one counted nothing.
StreamItem = str | GenerationResult


class EngineError(Exception):
    """The engine could not serve a request (down, overloaded, bad output)."""


@runtime_checkable
class Engine(Protocol):
    """Generates text for stages; implementations batch as they see fit."""

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Generate one result per request, in order."""
        ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        """Yield the text of one request piece by piece, then its ``GenerationResult``."""
        ...

    async def ready(self) -> bool:
        """Whether the engine can serve requests now (model loaded, server reachable)."""
        ...

    async def aclose(self) -> None:
        """Release the engine's resources."""
        ...
