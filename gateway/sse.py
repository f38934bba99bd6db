"""Server-sent events as OpenAI streams them: ``data: {json}`` lines, ending in ``[DONE]``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import BaseModel

from gateway.errors import GatewayError
from gateway.protocol import ChatCompletionChunk

DONE = b"data: [DONE]\n\n"


def encode_event(payload: BaseModel | dict[str, Any], name: str | None = None) -> bytes:
    """One SSE ``data:`` event for a chunk or an error object, named ``event:`` if given."""
    if isinstance(payload, BaseModel):
        text = payload.model_dump_json(exclude_unset=True)
    else:
        text = json.dumps(payload, separators=(",", ":"))
    named = f"event: {name}\n".encode() if name is not None else b""
    return named + b"data: " + text.encode() + b"\n\n"


def decode_event(event: bytes) -> bytes:
    """The JSON payload of one unnamed event made by ``encode_event``."""
    return event.removeprefix(b"data: ").removesuffix(b"\n\n")


async def event_stream(payloads: AsyncIterator[BaseModel]) -> AsyncIterator[bytes]:
    """Each payload as a ``data:`` event, then ``[DONE]``."""
    async for payload in payloads:
        yield encode_event(payload)
    yield DONE


class StreamTruncated(Exception):
    """The stream ended without its closing ``[DONE]``: the answer may be cut off."""


async def iter_data(lines: AsyncIterator[str], require_done: bool = False) -> AsyncIterator[str]:
    """Yield the payload of each ``data:`` line until ``[DONE]``; skip comments and blanks."""
    async for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        if data:
            yield data
    if require_done:
        raise StreamTruncated("the stream ended before [DONE]")


class ChunkEvents:
    """Chunks as OpenAI streams them: one ``data:`` event each, then ``[DONE]``.

    The gateway always asks the backend for the usage (it charges the tenant's tokens
    from it), so a usage-only chunk goes out only when the client asked for one.
    """

    def __init__(
        self,
        include_usage: bool,
        to_wire: Callable[[ChatCompletionChunk], BaseModel] | None = None,
    ) -> None:
        self._include_usage = include_usage
        self._to_wire = to_wire

    async def events(self, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[bytes]:
        """Encode each chunk the client should see; ``[DONE]`` once the chunks end."""
        async for chunk in chunks:
            if chunk.usage is not None and not chunk.choices and not self._include_usage:
                continue
            yield encode_event(self._to_wire(chunk) if self._to_wire else chunk)
        yield DONE

    def error(self, error: GatewayError) -> bytes:
        """A failure after the first byte: OpenAI's error JSON as the last event."""
        return encode_event(error.to_response())
