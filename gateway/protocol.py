"""OpenAI wire models of chat, models and errors: for the gateway, the model server and engines.

Every model allows extra fields: unknown request fields go to the backend as they
came, and unknown response fields reach the client unchanged.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_SURROGATE = re.compile("[\ud800-\udfff]")


class WireModel(BaseModel):
    """Base for wire models: keeps unknown fields so nothing is dropped."""

    model_config = ConfigDict(extra="allow")

    def to_wire(self) -> dict[str, Any]:
        """The JSON object as it goes over the wire: only fields that were set."""
        return self.model_dump(exclude_unset=True, mode="json")


class ObjectModel(WireModel):
    """A wire model with an ``object`` discriminator, always sent even when defaulted."""

    def model_post_init(self, context: Any, /) -> None:
        """Mark ``object`` as set so ``to_wire`` keeps it."""
        self.model_fields_set.add("object")


class ChatMessage(WireModel):
    """A chat message; content may be text, parts (vision, audio) or absent."""

    role: str
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    refusal: str | None = None  # a structured-output refusal, in place of content

    def text(self) -> str | None:
        """The message's plain text, joining text parts; None if it has none."""
        if isinstance(self.content, str) or self.content is None:
            return self.content
        texts = [str(part.get("text", "")) for part in self.content if part.get("type") == "text"]
        return "".join(texts) if texts else None


class StreamOptions(WireModel):
    """``stream_options`` of a chat request."""

    include_usage: bool = False


class SampledRequest(WireModel):
    """The fields chat and text completion bodies share: model, streaming and sampling."""

    model: str = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=16)
    stop: str | list[str] | None = None
    user: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_lone_surrogates(cls, data: Any) -> Any:
        reject_lone_surrogates(data)
        return data

    def stop_list(self) -> list[str]:
        """``stop`` as a list."""
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class ChatCompletionRequest(SampledRequest):
    """``POST /v1/chat/completions`` body."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)


def lone_surrogate_path(data: Any) -> str | None:
    """The dotted path of the first string in ``data`` holding a lone surrogate, if any."""
    pending: list[tuple[str, Any]] = [("body", data)]
    while pending:  # a loop, not recursion: deep JSON must not exhaust the stack
        path, value = pending.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                return path
        elif isinstance(value, dict):
            pending += [(f"{path}.{key}", item) for key, item in value.items()]
            pending += [(path, key) for key in value if isinstance(key, str)]
        elif isinstance(value, list):
            pending += [(f"{path}.{index}", item) for index, item in enumerate(value)]
    return None


def reject_lone_surrogates(data: Any) -> None:
    """Raise (a 400 through validation) if a string in a request body is no Unicode text.

    JSON may spell a lone surrogate ("\\ud800"), but UTF-8 cannot encode it, so every
    stage, backend call, log and store would fail on it.
    """
    where = lone_surrogate_path(data)
    if where is not None:
        raise ValueError(f"{where} contains a lone UTF-16 surrogate, which is not text")


class Usage(WireModel):
    """Token usage of a completion."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Choice(WireModel):
    """One choice of a non-streamed completion."""

    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(ObjectModel):
    """A non-streamed chat completion."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None


class DeltaMessage(WireModel):
    """The delta of a streamed choice."""

    role: str | None = None
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    refusal: str | None = None


class ChunkChoice(WireModel):
    """One choice of a streamed chunk."""

    index: int = 0
    delta: DeltaMessage = Field(default_factory=DeltaMessage)
    finish_reason: str | None = None


class ChatCompletionChunk(ObjectModel):
    """One SSE chunk of a streamed chat completion."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None


class ModelCard(ObjectModel):
    """An entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "aligngate"
    # What the model server lists, as vLLM does: the model a card is, and the base
    # model a LoRA adapter runs on.
    root: str | None = None
    parent: str | None = None


class ModelList(ObjectModel):
    """``GET /v1/models`` body."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorBody(BaseModel):
    """The inner object of OpenAI's error JSON."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error JSON: ``{"error": {...}}``."""

    error: ErrorBody
