"""A backend stream relayed as it arrives: timed, observed for the log, its first chunk awaited."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from gateway.pipeline.trace import RequestTrace
from gateway.protocol import ChatCompletionChunk


async def timed(
    chunks: AsyncIterator[ChatCompletionChunk], trace: RequestTrace
) -> AsyncIterator[ChatCompletionChunk]:
    """Pass chunks on, noting when the first one and the last one arrived."""
    started = time.perf_counter()
    try:
        async for chunk in chunks:
            if trace.backend_first_token_s is None:
                trace.backend_first_token_s = time.perf_counter() - started
            yield chunk
    finally:
        trace.backend_s = time.perf_counter() - started
        await aclose(chunks)


async def observed(
    chunks: AsyncIterator[ChatCompletionChunk], trace: RequestTrace
) -> AsyncIterator[ChatCompletionChunk]:
    """Pass chunks on, gathering the first choice's text and the usage into the trace.

    Gathered in pieces and joined once at the end, however the stream ends (a client
    that goes away mid-answer leaves the part it was sent in the log).
    """
    pieces: list[str] = []
    try:
        async for chunk in chunks:
            if chunk.usage is not None:
                trace.note_usage(chunk.usage)
            pieces += [c.delta.content or "" for c in chunk.choices if c.index == 0]
            yield chunk
    finally:
        trace.answer = "".join(pieces)
        await aclose(chunks)


async def first_awaited(
    chunks: AsyncIterator[ChatCompletionChunk],
) -> AsyncIterator[ChatCompletionChunk]:
    """``chunks`` once the first has arrived, so a failed call is still a proper 5xx."""
    iterator = aiter(chunks)
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        return _none()
    except BaseException:
        await aclose(iterator)
        raise
    return _prepend(first, iterator)


async def _prepend(
    first: ChatCompletionChunk, rest: AsyncIterator[ChatCompletionChunk]
) -> AsyncIterator[ChatCompletionChunk]:
    yield first
    try:
        async for chunk in rest:
            yield chunk
    finally:
        await aclose(rest)


async def _none() -> AsyncIterator[ChatCompletionChunk]:
    return
    yield  # an async generator that yields nothing


async def aclose(iterator: AsyncIterator[object]) -> None:
    """Close an async iterator that can be closed (a generator); others need nothing."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
