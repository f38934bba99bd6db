"""The logic behind the model server's routes: wire request -> engine -> wire response."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.engines.base import (
    ChatTurn,
    Engine,
    EngineError,
    GenerationRequest,
    GenerationResult,
)
from gateway.model_server.protocol import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatMessage,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    DeltaMessage,
    ModelCard,
    ModelList,
    Usage,
)
from gateway.protocol import ErrorBody, ErrorResponse

# A streamed response: wire chunks, or an error if the engine fails mid-stream.
Chunks = AsyncIterator[BaseModel]


class ServingError(Exception):
    """A request the server refuses or cannot serve, with its HTTP status."""

    def __init__(self, status: int, message: str, kind: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorResponse(error=ErrorBody(message=message, type=kind, code=code))


def bad_request(message: str) -> ServingError:
    """A 400 error in OpenAI's shape."""
    return ServingError(400, message, "invalid_request_error")


class ModelServing:
    """Serves one engine under a base model name and its adapters' names."""

    def __init__(self, engine: Engine, served_model_name: str, adapter_names: Sequence[str]):
        self.engine = engine
        self.served_model_name = served_model_name
        self.adapter_names = tuple(adapter_names)

    def models(self) -> ModelList:
        """The base model and one card per LoRA adapter, as vLLM lists LoRA modules."""
        base = ModelCard(id=self.served_model_name, root=self.served_model_name)
        adapters = [
            ModelCard(id=name, root=name, parent=self.served_model_name)
            for name in self.adapter_names
        ]
        return ModelList(data=[base, *adapters])

    async def complete(self, request: CompletionRequest) -> CompletionResponse | Chunks:
        """Answer /v1/completions: one choice per prompt, or a stream for a single prompt."""
        prompts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
        if not prompts:
            raise bad_request("'prompt' must not be empty")
        adapter = self._adapter(request.model)
        generations = [
            _generation_request(
                prompt=p,
                adapter=adapter,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                top_p=request.top_p,
                stop=request.stop_list(),
            )
            for p in prompts
        ]
        if request.stream:
            if len(generations) != 1:
                raise bad_request("streaming supports a single prompt")
            return self._stream_completion(request.model, generations[0])
        results = await self._generate(generations)
        choices = [
            CompletionChoice(index=i, text=r.text, finish_reason=r.finish_reason)
            for i, r in enumerate(results)
        ]
        return CompletionResponse(model=request.model, choices=choices, usage=_usage(results))

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletionResponse | Chunks:
        """Answer /v1/chat/completions, formatted by the model's own chat template."""
        max_tokens = request.max_completion_tokens or request.max_tokens
        generation = _generation_request(
            messages=[ChatTurn(role=m.role, content=m.content) for m in request.messages],
            adapter=self._adapter(request.model),
            temperature=request.temperature,
            top_p=request.top_p,
            stop=request.stop_list(),
            **({"max_tokens": max_tokens} if max_tokens else {}),
        )
        if request.stream:
            return self._stream_chat(request.model, generation)
        (result,) = await self._generate([generation])
        choice = ChatChoice(
            index=0,
            message=ChatMessage(role="assistant", content=result.text),
            finish_reason=result.finish_reason,
        )
        return ChatCompletionResponse(model=request.model, choices=[choice], usage=_usage([result]))

    def _adapter(self, model: str) -> str | None:
        if model == self.served_model_name:
            return None
        if model in self.adapter_names:
            return model
        raise ServingError(
            404, f"The model `{model}` does not exist.", "invalid_request_error", "model_not_found"
        )

    async def _generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        try:
            return await self.engine.generate(requests)
        except EngineError as error:
            raise ServingError(500, str(error), "server_error") from error

    async def _stream_completion(self, model: str, request: GenerationRequest) -> Chunks:
        response_id = f"cmpl-{uuid.uuid4().hex}"
        try:
            async for piece in self.engine.stream(request):
                choice = CompletionChoice(index=0, text=piece, finish_reason=None)
                yield CompletionResponse(id=response_id, model=model, choices=[choice])
        except EngineError as error:
            yield ServingError(500, str(error), "server_error").body
            return
        final = CompletionChoice(index=0, text="", finish_reason="stop")
        yield CompletionResponse(id=response_id, model=model, choices=[final])

    async def _stream_chat(self, model: str, request: GenerationRequest) -> Chunks:
        response_id = f"chatcmpl-{uuid.uuid4().hex}"

        def chunk(delta: DeltaMessage, finish: Any = None) -> ChatCompletionChunk:
            choice = ChatChunkChoice(delta=delta, finish_reason=finish)
            return ChatCompletionChunk(id=response_id, model=model, choices=[choice])

        yield chunk(DeltaMessage(role="assistant", content=""))
        try:
            async for piece in self.engine.stream(request):
                yield chunk(DeltaMessage(content=piece))
        except EngineError as error:
            yield ServingError(500, str(error), "server_error").body
            return
        yield chunk(DeltaMessage(), finish="stop")


def _generation_request(**fields: Any) -> GenerationRequest:
    try:
        return GenerationRequest(**fields)
    except ValidationError as error:
        raise bad_request(str(error)) from error


def _usage(results: Sequence[GenerationResult]) -> Usage:
    prompt = sum(r.prompt_tokens for r in results)
    completion = sum(r.completion_tokens for r in results)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
