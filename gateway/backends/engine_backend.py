"""The embedded backend: a chat model answered by one of the gateway's own engines."""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.backends.base import CallContext, ForwardRequest, ForwardResponse
from gateway.engines.base import Engine, EngineError, GenerationRequest
from gateway.engines.chat_wire import chat_chunks, chat_completion, chat_generation
from gateway.errors import BackendError, NotFound
from gateway.protocol import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ModelCard


class EngineBackend:
    """Answers chat requests with a local engine (the embedded SmolLM2 by default)."""

    def __init__(self, *, engine: Engine, adapter: str | None, default_max_tokens: int) -> None:
        self._engine = engine
        self._adapter = adapter
        self._default_max_tokens = default_max_tokens

    def _generation(self, request: ChatCompletionRequest) -> GenerationRequest:
        # Greedy unless asked otherwise: the embedded model answers the same way twice.
        return chat_generation(
            request,
            adapter=self._adapter,
            default_max_tokens=self._default_max_tokens,
            default_temperature=0.0,
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
        return chat_completion(request.model, results)

    async def stream(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> AsyncIterator[ChatCompletionChunk]:
        """Stream the answer of one choice as the engine produces it."""
        pieces = self._engine.stream(self._generation(request))
        options = request.stream_options
        include_usage = bool(options and options.include_usage)
        try:
            async for chunk in chat_chunks(request.model, pieces, include_usage=include_usage):
                yield chunk
        except EngineError as exc:
            raise BackendError("the local model failed") from exc

    async def list_models(self, context: CallContext) -> list[ModelCard]:
        """The route's name is the model; nothing else to list."""
        return []

    async def forward(self, request: ForwardRequest, context: CallContext) -> ForwardResponse:
        """The embedded model serves chat completions only."""
        raise NotFound(f"/v1/{request.path} is not available for the embedded model")

    async def aclose(self) -> None:
        """The engine is closed by its owner."""
