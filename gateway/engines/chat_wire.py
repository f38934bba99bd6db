"""Between OpenAI chat and an engine: a chat request as a generation, results as a completion.

The gateway's embedded backend and the model server both answer chat with an engine;
this is the one translation they share. What each accepts differs (the model server
refuses what it cannot honour before it gets here), so the defaults are arguments.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence

from gateway.engines.base import ChatTurn, GenerationRequest, GenerationResult, StreamItem
from gateway.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ChunkChoice,
    DeltaMessage,
    Usage,
)

# Chat templates know three roles; a developer message is a system one, any other
# (tool results) is read as the user's.
_ROLES = {"system": "system", "developer": "system", "assistant": "assistant"}


def chat_turns(messages: Sequence[ChatMessage]) -> list[ChatTurn]:
    """The messages as the engine's chat turns, text parts joined."""
    return [
        ChatTurn(role=_ROLES.get(m.role, "user"), content=m.text() or "")  # type: ignore[arg-type]
        for m in messages
    ]


def chat_generation(
    request: ChatCompletionRequest,
    *,
    adapter: str | None,
    default_max_tokens: int,
    default_temperature: float,
) -> GenerationRequest:
    """What the engine is asked to generate for one choice of ``request``."""
    return GenerationRequest(
        messages=chat_turns(request.messages),
        adapter=adapter,
        max_tokens=request.max_completion_tokens or request.max_tokens or default_max_tokens,
        temperature=default_temperature if request.temperature is None else request.temperature,
        # top_p 0 cannot be sampled from; OpenAI reads it as "no nucleus cut".
        top_p=request.top_p or 1.0,
        stop=request.stop_list(),
    )


def usage_of(results: Sequence[GenerationResult], *, one_prompt: bool) -> Usage:
    """The token usage of ``results``; ``one_prompt`` when all answer the same prompt."""
    prompt = results[0].prompt_tokens if one_prompt else sum(r.prompt_tokens for r in results)
    completion = sum(r.completion_tokens for r in results)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def chat_completion(model: str, results: Sequence[GenerationResult]) -> ChatCompletion:
    """The engine's results for one prompt as a chat completion, one choice each."""
    choices = [
        Choice(
            index=i,
            message=ChatMessage(role="assistant", content=r.text),
            finish_reason=r.finish_reason,
        )
        for i, r in enumerate(results)
    ]
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        choices=choices,
        usage=usage_of(results, one_prompt=True),
    )


async def chat_chunks(
    model: str, pieces: AsyncIterator[StreamItem], *, include_usage: bool = False
) -> AsyncIterator[ChatCompletionChunk]:
    """The engine's stream as chat chunks: the role, each piece, the finish reason, then
    (asked for, and counted by the engine) a usage-only chunk, as OpenAI sends it.

    An engine failure propagates from the pieces; the caller decides what it becomes.
    """
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: DeltaMessage, finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=chunk_id,
            created=created,
            model=model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],
        )

    yield chunk(DeltaMessage(role="assistant", content=""))
    result: GenerationResult | None = None
    async for piece in pieces:
        if isinstance(piece, GenerationResult):
            result = piece
        elif piece:
            yield chunk(DeltaMessage(content=piece))
    yield chunk(DeltaMessage(), finish=result.finish_reason if result else "stop")
    if include_usage and result is not None:
        usage = usage_of([result], one_prompt=True)
        yield ChatCompletionChunk(
            id=chunk_id, created=created, model=model, choices=[], usage=usage
        )
