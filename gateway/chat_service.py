"""The logic of ``/v1/chat/completions``: stages, backend call, and the answer's shape."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from gateway.answers import calls_tools, corrected_choice
from gateway.backends.base import Backend, CallContext
from gateway.errors import GatewayError
from gateway.pipeline.pipeline import Pipeline
from gateway.pipeline.stage import Answer, StageInput, StageMessage
from gateway.pipeline.structured import wants_json
from gateway.pipeline.trace import RequestTrace
from gateway.protocol import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from gateway.sse import DONE, encode_event
from gateway.streaming import collect, replay


@dataclass(frozen=True)
class ChatTarget:
    """Where one request goes: its backend and the pipeline of stages around it."""

    backend: Backend
    pipeline: Pipeline


@dataclass
class ChatStream:
    """A streamed answer: SSE bytes, started only after every stage has run."""

    events: AsyncIterator[bytes]


class ChatService:
    """Runs one chat request through the pipeline and its backend."""

    def __init__(self, *, max_buffered_bytes: int) -> None:
        self._max_buffered_bytes = max_buffered_bytes

    async def create(
        self,
        target: ChatTarget,
        request: ChatCompletionRequest,
        context: CallContext,
        trace: RequestTrace,
    ) -> ChatCompletion | ChatStream:
        """A completion, or a stream whose first chunk has already arrived."""
        data = await target.pipeline.run_pre(_stage_input(request), trace)
        request = _with_messages(request, data)
        if not request.stream:
            return await self._complete(target, request, data, context, trace)
        if target.pipeline.has_post_stages:
            return await self._buffered_stream(target, request, data, context, trace)
        return await _passthrough_stream(_timed(target.backend.stream(request, context), trace))

    async def _complete(
        self,
        target: ChatTarget,
        request: ChatCompletionRequest,
        data: StageInput,
        context: CallContext,
        trace: RequestTrace,
    ) -> ChatCompletion:
        started = time.perf_counter()
        completion = await target.backend.complete(request, context)
        trace.backend_first_token_s = time.perf_counter() - started
        trace.total_tokens = completion.usage.total_tokens if completion.usage else None
        if not target.pipeline.has_post_stages:
            trace.answer = _first_text(completion)
            return completion
        answers = [
            Answer(content=c.message.text(), has_tool_calls=calls_tools(c.message))
            for c in completion.choices
        ]
        final = await target.pipeline.run_post(data, answers, trace)
        as_json = wants_json(data.response_format)
        completion.choices = [
            corrected_choice(choice, answer.content, as_refusal=answer.refused and as_json)
            if answer.content is not None and answer.content != choice.message.text()
            else choice
            for choice, answer in zip(completion.choices, final, strict=True)
        ]
        trace.answer = _first_text(completion)
        return completion

    async def _buffered_stream(
        self,
        target: ChatTarget,
        request: ChatCompletionRequest,
        data: StageInput,
        context: CallContext,
        trace: RequestTrace,
    ) -> ChatStream:
        # The whole answer is read before the stage runs: no token of the uncorrected
        # answer may reach the client, and errors can still get a proper status code.
        chunks = _timed(target.backend.stream(request, context), trace)
        buffered = await collect(chunks, self._max_buffered_bytes)
        indices = sorted(buffered.choices)
        answers = [
            Answer(
                content=buffered.choices[i].content,
                has_tool_calls=buffered.choices[i].has_tool_calls,
            )
            for i in indices
        ]
        final = await target.pipeline.run_post(data, answers, trace)
        contents = {i: a.content for i, a in zip(indices, final, strict=True)}
        as_json = wants_json(data.response_format)
        refusals = {i for i, a in zip(indices, final, strict=True) if a.refused and as_json}
        trace.answer = final[0].content if final else None
        trace.total_tokens = buffered.usage.total_tokens if buffered.usage else None
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        events = list(replay(buffered, contents, include_usage, refusals))
        return ChatStream(events=_replayed(events))


def _first_text(completion: ChatCompletion) -> str | None:
    return completion.choices[0].message.text() if completion.choices else None


async def _timed(
    chunks: AsyncIterator[ChatCompletionChunk], trace: RequestTrace
) -> AsyncIterator[ChatCompletionChunk]:
    """Pass chunks on, noting when the first one arrived."""
    started = time.perf_counter()
    try:
        async for chunk in chunks:
            if trace.backend_first_token_s is None:
                trace.backend_first_token_s = time.perf_counter() - started
            yield chunk
    finally:
        await _close(chunks)


def _stage_input(request: ChatCompletionRequest) -> StageInput:
    messages = [StageMessage(role=m.role, content=m.text()) for m in request.messages]
    response_format = (request.model_extra or {}).get("response_format")
    return StageInput(
        model=request.model,
        original=messages,
        messages=list(messages),
        response_format=response_format if isinstance(response_format, dict) else None,
    )


def _with_messages(request: ChatCompletionRequest, data: StageInput) -> ChatCompletionRequest:
    """The request as the backend should see it, with stage rewrites applied in place."""
    if data.messages == data.original:
        return request
    messages = [m.model_copy() for m in request.messages]
    for message, before, after in zip(messages, data.original, data.messages, strict=True):
        if after.content != before.content:
            message.content = _with_text(message.content, after.content)
    return request.model_copy(update={"messages": messages})


def _with_text(
    content: str | list[dict[str, Any]] | None, text: str | None
) -> str | list[dict[str, Any]] | None:
    """``content`` with its text replaced; images, audio and other parts stay where they were.

    Stages see a message's text parts joined into one string, so the rewrite takes the
    first text part's place and the other text parts go.
    """
    if not isinstance(content, list) or text is None:
        return text
    parts: list[dict[str, Any]] = []
    placed = False
    for part in content:
        if part.get("type") != "text":
            parts.append(part)
        elif not placed:
            parts.append({**part, "text": text})
            placed = True
    return parts


async def _passthrough_stream(chunks: AsyncIterator[ChatCompletionChunk]) -> ChatStream:
    """Tokens go out as they arrive; the first is awaited so a failed call is still a 5xx."""
    iterator = aiter(chunks)
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        return ChatStream(events=_sse(_aiter([])))
    except BaseException:
        await _close(iterator)
        raise
    return ChatStream(events=_sse(_prepend(first, iterator)))


async def _prepend(
    first: ChatCompletionChunk, rest: AsyncIterator[ChatCompletionChunk]
) -> AsyncIterator[ChatCompletionChunk]:
    yield first
    try:
        async for chunk in rest:
            yield chunk
    finally:
        await _close(rest)


async def _aiter(chunks: list[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
    for chunk in chunks:
        yield chunk


async def _close(iterator: AsyncIterator[ChatCompletionChunk]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def _replayed(events: list[bytes]) -> AsyncIterator[bytes]:
    """A buffered answer's events, already encoded, then the end of the stream."""
    for event in events:
        yield event
    yield DONE


async def _sse(chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[bytes]:
    """Encode chunks as SSE; a failure after the first byte becomes an SSE error event."""
    try:
        async for chunk in chunks:
            yield encode_event(chunk)
    except GatewayError as exc:
        yield encode_event(exc.to_response())
        return
    yield DONE
