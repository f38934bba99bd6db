"""The embedded backend: a chat model answered by one of the gateway's own engines."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from gateway.backends.base import CallContext, ForwardRequest, ForwardResponse
from gateway.engines.base import ChatTurn, Engine, EngineError, GenerationRequest
from gateway.errors import BackendError, NotFound
from gateway.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ChunkChoice,
    DeltaMessage,
    ModelCard,
    Usage,
)

_ROLES = {"system": "system", "developer": "system", "assistant": "assistant"}


class EngineBackend:
    """Answers chat requests with a local engine (the embedded SmolLM2 by default)."""

    def __init__(self, *, engine: Engine, adapter: str | None, default_max_tokens: int) -> None:
        self._engine = engine
        self._adapter = adapter
        self._default_max_tokens = default_max_tokens

    def _generation(self, request: ChatCompletionRequest) -> GenerationRequest:
        turns = [
            ChatTurn(role=_ROLES.get(m.role, "user"), content=m.text() or "")  # type: ignore[arg-type]
            for m in request.messages
        ]
        return GenerationRequest(
            messages=turns,
            adapter=self._adapter,
            max_tokens=request.max_completion_tokens
            or request.max_tokens
            or self._default_max_tokens,
            temperature=request.temperature or 0.0,
            top_p=request.top_p or 1.0,
            stop=request.stop_list(),
        )

    async def complete(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> ChatCompletion:
        """Generate the answer in one piece (batched with concurrent requests)."""
        generation = self._generation(request)
        try:
            results = await self._engine.generate([generation] * (request.n or 1))
        except EngineError as exc:
            raise BackendError("the local model failed") from exc
        choices = [
            Choice(
                index=i,
                message=ChatMessage(role="assistant", content=r.text),
                finish_reason=r.finish_reason,
            )
            for i, r in enumerate(results)
        ]
        prompt_tokens = results[0].prompt_tokens
        completion_tokens = sum(r.completion_tokens for r in results)
        return ChatCompletion(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=request.model,
            choices=choices,
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            ),
        )

    async def stream(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> AsyncIterator[ChatCompletionChunk]:
        """Stream the answer of one choice as the engine produces it."""
        chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

        def chunk(delta: DeltaMessage, finish: str | None = None) -> ChatCompletionChunk:
            return ChatCompletionChunk(
                id=chunk_id,
                created=created,
                model=request.model,
                choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],
            )

        yield chunk(DeltaMessage(role="assistant", content=""))
        try:
            async for piece in self._engine.stream(self._generation(request)):
                yield chunk(DeltaMessage(content=piece))
        except EngineError as exc:
            raise BackendError("the local model failed") from exc
        yield chunk(DeltaMessage(), finish="stop")

    async def list_models(self, context: CallContext) -> list[ModelCard]:
        """The route's name is the model; nothing else to list."""
        return []

    async def forward(self, request: ForwardRequest, context: CallContext) -> ForwardResponse:
        """The embedded model serves chat completions only."""
        raise NotFound(f"/v1/{request.path} is not available for the embedded model")

    async def aclose(self) -> None:
        """The engine is closed by its owner."""
