"""OpenTelemetry's GenAI semantic conventions for the gateway's spans: names and attributes.

A request span is named ``{operation} {model}``. The chat route is ``chat`` and the
legacy completions route ``text_completion``, the conventions' well-known values; the
Responses API has no value of its own there and is a chat exchange, so it is ``chat``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from gateway.live_stream import aclose
from gateway.protocol import ChatCompletion, ChatCompletionChunk, Usage
from gateway.tracing.seam import Attributes, Span

OPERATION = "gen_ai.operation.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
PROVIDER = "gen_ai.provider.name"

_OPERATIONS = {"chat": "chat", "completions": "text_completion", "responses": "chat"}


def operation(route: str) -> str:
    """The conventions' operation name of a generation route."""
    return _OPERATIONS.get(route, "chat")


def span_name(route: str, model: str) -> str:
    """``chat gpt-4o``: the operation, then the requested model."""
    return f"{operation(route)} {model}"


def request_attributes(route: str, model: str, max_tokens: int | None = None) -> Attributes:
    """What is known of a generation before it runs."""
    return {
        OPERATION: operation(route),
        REQUEST_MODEL: model,
        "gen_ai.request.max_tokens": max_tokens,
    }


@dataclass
class ResponseFacts:
    """What a backend's answer said about itself: model, id, finish reasons, usage."""

    model: str | None = None
    response_id: str | None = None
    finish_reasons: dict[int, str] = field(default_factory=dict)
    usage: Usage | None = None

    def see_completion(self, completion: ChatCompletion) -> None:
        """Take the facts of a whole completion."""
        self.model, self.response_id, self.usage = completion.model, completion.id, completion.usage
        for choice in completion.choices:
            if choice.finish_reason is not None:
                self.finish_reasons[choice.index] = choice.finish_reason

    def see_chunk(self, chunk: ChatCompletionChunk) -> None:
        """Take the facts a stream's chunk carries."""
        self.model, self.response_id = self.model or chunk.model, self.response_id or chunk.id
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            if choice.finish_reason is not None:
                self.finish_reasons[choice.index] = choice.finish_reason

    def attributes(self) -> Attributes:
        """The response attributes of the conventions, those that are known."""
        usage = self.usage
        reasons = [self.finish_reasons[i] for i in sorted(self.finish_reasons)]
        return {
            RESPONSE_MODEL: self.model,
            RESPONSE_ID: self.response_id,
            FINISH_REASONS: reasons or None,
            INPUT_TOKENS: usage.prompt_tokens if usage is not None else None,
            OUTPUT_TOKENS: usage.completion_tokens if usage is not None else None,
        }


async def watched(
    chunks: AsyncIterator[ChatCompletionChunk], facts: ResponseFacts
) -> AsyncIterator[ChatCompletionChunk]:
    """The chunks unchanged, each one's facts noted on the way."""
    try:
        async for chunk in chunks:
            facts.see_chunk(chunk)
            yield chunk
    finally:
        await aclose(chunks)  # closing this must close the backend's stream too


def record_failure(span: Span, error: BaseException) -> None:
    """Mark a span failed by an exception, named by its class (BackendTimeout, StageFailed)."""
    span.fail(type(error).__name__, str(error)[:300] or None)
