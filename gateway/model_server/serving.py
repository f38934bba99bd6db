"""The logic behind the model server's routes: wire request -> engine -> wire response.

The requests and responses are the gateway's own wire models (gateway/protocol.py,
gateway/completions_protocol.py); what this server cannot honour that the gateway
would accept (several choices, content parts, tool messages) is refused here with a 400.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence

from pydantic import BaseModel

from gateway.completions_protocol import Completion, CompletionChoice, CompletionRequest
from gateway.engines.base import Engine, EngineError, GenerationRequest, GenerationResult
from gateway.engines.chat_wire import chat_chunks, chat_completion, chat_generation, usage_of
from gateway.errors import GatewayError, InvalidRequest, NotFound
from gateway.protocol import (
    ChatCompletion,
    ChatCompletionRequest,
    ModelCard,
    ModelList,
    StreamOptions,
)

# A streamed response: wire chunks, or an error if the engine fails mid-stream.
Chunks = AsyncIterator[BaseModel]

# OpenAI's defaults where a request sets none (vLLM's too).
_COMPLETION_MAX_TOKENS = 16
_CHAT_MAX_TOKENS = 256
_TEMPERATURE = 1.0
# The roles a chat template formats; anything else would be silently misread.
_ROLES = frozenset({"system", "user", "assistant"})


class EngineFailed(GatewayError):
    """The engine could not generate (500, as vLLM reports it)."""

    status_code = 500
    error_type = "server_error"


class ModelServing:
    """Serves one engine under a base model name and its adapters' names."""

    def __init__(self, engine: Engine, served_model_name: str, adapter_names: Sequence[str]):
        self.engine = engine
        self.served_model_name = served_model_name
        self.adapter_names = tuple(adapter_names)

    def models(self) -> ModelList:
        """The base model and one card per LoRA adapter, as vLLM lists LoRA modules."""
        base = self.served_model_name
        cards = [(base, None), *((name, base) for name in self.adapter_names)]
        created = int(time.time())
        return ModelList(
            data=[
                ModelCard(id=name, created=created, owned_by="aligngate", root=name, parent=parent)
                for name, parent in cards
            ]
        )

    async def complete(self, request: CompletionRequest) -> Completion | Chunks:
        """Answer /v1/completions: one choice per prompt, or a stream for a single prompt."""
        _one_choice(request.n)
        adapter = self._adapter(request.model)
        generations = [
            GenerationRequest(
                prompt=prompt,
                adapter=adapter,
                max_tokens=request.max_tokens or _COMPLETION_MAX_TOKENS,
                temperature=_TEMPERATURE if request.temperature is None else request.temperature,
                top_p=_top_p(request.top_p),
                stop=[request.stop] if isinstance(request.stop, str) else request.stop or [],
            )
            for prompt in request.prompts()
        ]
        if request.stream:
            if len(generations) != 1:
                raise InvalidRequest("streaming supports a single prompt", param="prompt")
            wants_usage = _include_usage(request.stream_options)
            return self._stream_completion(request.model, generations[0], wants_usage)
        results = await self._generate(generations)
        choices = [
            CompletionChoice(index=i, text=r.text, finish_reason=r.finish_reason)
            for i, r in enumerate(results)
        ]
        usage = usage_of(results, one_prompt=False)
        return _completion(request.model).model_copy(update={"choices": choices, "usage": usage})

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion | Chunks:
        """Answer /v1/chat/completions, formatted by the model's own chat template."""
        _one_choice(request.n)
        _top_p(request.top_p)
        for index, message in enumerate(request.messages):
            if message.role not in _ROLES:
                raise InvalidRequest(
                    f"role {message.role!r} is not served here; use system, user or assistant",
                    param=f"messages.{index}.role",
                )
            if not isinstance(message.content, str):
                raise InvalidRequest(
                    "this server reads text content only", param=f"messages.{index}.content"
                )
        generation = chat_generation(
            request,
            adapter=self._adapter(request.model),
            default_max_tokens=_CHAT_MAX_TOKENS,
            default_temperature=_TEMPERATURE,
        )
        if request.stream:
            pieces = self.engine.stream(generation)
            wants_usage = _include_usage(request.stream_options)
            return _stopping_on_failure(
                chat_chunks(request.model, pieces, include_usage=wants_usage)
            )
        return chat_completion(request.model, await self._generate([generation]))

    def _adapter(self, model: str) -> str | None:
        if model == self.served_model_name:
            return None
        if model in self.adapter_names:
            return model
        raise NotFound(
            f"The model `{model}` does not exist.", param="model", code="model_not_found"
        )

    async def _generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        try:
            return await self.engine.generate(requests)
        except EngineError as error:
            raise EngineFailed(str(error)) from error

    def _stream_completion(
        self, model: str, request: GenerationRequest, include_usage: bool
    ) -> Chunks:
        head = _completion(model)

        async def chunks() -> AsyncIterator[BaseModel]:
            result: GenerationResult | None = None
            async for piece in self.engine.stream(request):
                if isinstance(piece, GenerationResult):
                    result = piece
                    continue
                choice = CompletionChoice(index=0, text=piece, finish_reason=None)
                yield head.model_copy(update={"choices": [choice]})
            finish = result.finish_reason if result else "stop"
            final = CompletionChoice(index=0, text="", finish_reason=finish)
            yield head.model_copy(update={"choices": [final]})
            if include_usage and result is not None:
                usage = usage_of([result], one_prompt=True)
                yield head.model_copy(update={"choices": [], "usage": usage})

        return _stopping_on_failure(chunks())


async def _stopping_on_failure(chunks: AsyncIterator[BaseModel]) -> Chunks:
    """The chunks, ending with an error object if the engine fails mid-stream."""
    try:
        async for chunk in chunks:
            yield chunk
    except EngineError as error:
        yield EngineFailed(str(error)).to_response()


def _include_usage(options: StreamOptions | None) -> bool:
    return bool(options and options.include_usage)


def _one_choice(n: int | None) -> None:
    if n not in (None, 1):
        raise InvalidRequest("this server generates one choice per prompt", param="n")


def _top_p(top_p: float | None) -> float:
    if top_p == 0:
        raise InvalidRequest("top_p must be greater than 0", param="top_p")
    return 1.0 if top_p is None else top_p


def _completion(model: str) -> Completion:
    """An empty text completion with a fresh id, to copy choices into."""
    return Completion(
        id=f"cmpl-{uuid.uuid4().hex}", created=int(time.time()), model=model, choices=[]
    )
