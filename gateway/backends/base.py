"""The backend seam: how the gateway calls the LLM a client asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from gateway.protocol import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ModelCard
from gateway.tracing.seam import NO_SPAN, Span


class CallContext(BaseModel):
    """What a backend may need about the client beyond the request body."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    client_api_key: str | None = None
    request_id: str = ""
    # The span a backend call runs under: the request's, then each attempt's; a backend
    # that calls over HTTP names it as the parent in its traceparent header.
    span: SkipValidation[Span] = Field(default=NO_SPAN, exclude=True, repr=False)


class ForwardRequest(BaseModel):
    """A raw request for a route without stages (embeddings, completions...)."""

    method: str
    path: str = Field(description="Path under /v1, e.g. 'embeddings'.")
    query: str = ""
    body: bytes = b""
    content_type: str | None = None


class ForwardResponse(BaseModel):
    """The upstream's raw answer to a forwarded request, streamed."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    status_code: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]


class Backend(Protocol):
    """Calls one backend LLM. Failures raise ``gateway.errors.GatewayError`` subclasses."""

    async def complete(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> ChatCompletion:
        """Return a non-streamed chat completion."""
        ...

    def stream(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> AsyncIterator[ChatCompletionChunk]:
        """Yield the chunks of a streamed chat completion."""
        ...

    async def list_models(self, context: CallContext) -> list[ModelCard]:
        """Models the backend itself offers (used when the gateway maps any model to it)."""
        ...

    async def forward(self, request: ForwardRequest, context: CallContext) -> ForwardResponse:
        """Send a request for another route unchanged; raises NotFound if unsupported."""
        ...

    async def aclose(self) -> None:
        """Close connections."""
        ...
