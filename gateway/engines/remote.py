"""An engine behind any OpenAI-compatible server (``vllm serve``, ``aligngate models serve``).

Each request is one HTTP call; concurrent requests go out concurrently and the
server batches them. A LoRA adapter is selected by sending its name as ``model``,
which is how vLLM's ``--lora-modules name=path`` exposes adapters.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
from pydantic import ValidationError

from gateway.completions_protocol import CompletionChoice, CompletionRequest
from gateway.engines.base import EngineError, GenerationRequest, GenerationResult, StreamItem
from gateway.engines.config import RemoteEngineConfig
from gateway.protocol import ChatCompletionRequest, ChatMessage, Choice, ChunkChoice, Usage
from gateway.sse import StreamTruncated, iter_data

# Read choice by choice (with the usage beside them) rather than as whole responses:
# the engine needs only the text, and a server that leaves out an ``id`` still answers.
AnyChoice = CompletionChoice | Choice | ChunkChoice


class RemoteEngine:
    """Sends generation requests to an OpenAI-compatible HTTP server."""

    def __init__(
        self,
        api_base: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self._client = httpx.AsyncClient(
            base_url=api_base.rstrip("/") + "/",
            headers=headers,
            timeout=timeout_s,
            transport=transport,
        )

    @classmethod
    def from_config(cls, config: RemoteEngineConfig) -> RemoteEngine:
        """Build the engine, reading the API key from the configured environment variable."""
        api_key = None
        if config.api_key_env is not None:
            api_key = os.environ.get(config.api_key_env)
            if not api_key:
                raise EngineError(f"environment variable {config.api_key_env} is not set")
        return cls(config.api_base, config.model, api_key=api_key, timeout_s=config.timeout_s)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Send every request concurrently; results come back in request order."""
        return list(await asyncio.gather(*(self._generate_one(r) for r in requests)))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        """Yield text pieces from the server's events, then the result with the server's
        token counts; a failure or a cut stream is an error."""
        path, body = self._body(request, stream=True)
        texts: list[str] = []
        usage, cut = Usage(), False
        try:
            async with self._client.stream("POST", path, json=body) as response:
                await _raise_for_status(response)
                async for payload in iter_data(response.aiter_lines(), require_done=True):
                    choice, seen = _parse(payload, stream=True, chat=request.messages is not None)
                    usage = seen if seen.total_tokens else usage
                    cut = cut or (choice is not None and choice.finish_reason == "length")
                    if choice is not None and (piece := _text(choice)):
                        texts.append(piece)
                        yield piece
        except (httpx.HTTPError, StreamTruncated) as error:
            raise EngineError(f"{self._client.base_url}{path}: {error!r}") from error
        yield GenerationResult(
            text="".join(texts),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            finish_reason="length" if cut else "stop",
        )

    async def ready(self) -> bool:
        """Whether GET /models answers successfully."""
        try:
            response = await self._client.get("models")
        except httpx.HTTPError:
            return False
        return response.is_success

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.aclose()

    async def _generate_one(self, request: GenerationRequest) -> GenerationResult:
        path, body = self._body(request, stream=False)
        try:
            response = await self._client.post(path, json=body)
            await _raise_for_status(response)
        except httpx.HTTPError as error:
            raise EngineError(f"{self._client.base_url}{path}: {error!r}") from error
        choice, usage = _parse(response.text, stream=False, chat=request.messages is not None)
        if choice is None:
            raise EngineError(f"{path}: response has no choices")
        return GenerationResult(
            text=_text(choice),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
        )

    def _body(self, request: GenerationRequest, *, stream: bool) -> tuple[str, dict[str, Any]]:
        fields: dict[str, Any] = {
            "model": request.adapter or self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": stream,
        }
        if stream:
            # vLLM and OpenAI send the token counts of a stream only when asked.
            fields["stream_options"] = {"include_usage": True}
        if request.stop:
            fields["stop"] = request.stop
        try:
            if request.prompt is not None:
                return "completions", CompletionRequest(prompt=request.prompt, **fields).to_wire()
            turns = request.messages or []
            messages = [ChatMessage(role=t.role, content=t.content) for t in turns]
            return "chat/completions", ChatCompletionRequest(messages=messages, **fields).to_wire()
        except ValidationError as error:
            raise EngineError(f"no OpenAI request can carry this generation: {error}") from error


async def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    detail = (await response.aread()).decode(errors="replace")[:500]
    raise EngineError(f"{response.request.url} answered {response.status_code}: {detail}")


def _parse(payload: str, *, stream: bool, chat: bool) -> tuple[AnyChoice | None, Usage]:
    """The first choice of a response or stream chunk, and its usage (zeros if none)."""
    model: type[AnyChoice] = (ChunkChoice if stream else Choice) if chat else CompletionChoice
    try:
        data = json.loads(payload)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if "error" in data:  # a failure after the first byte, as OpenAI's error JSON
            raise EngineError(f"the model server failed: {data['error']}")
        choices = data.get("choices") or []
        if not isinstance(choices, list):
            raise ValueError("'choices' is not a list")
        choice = model.model_validate(choices[0]) if choices else None
        return choice, Usage.model_validate(data.get("usage") or {})
    except ValueError as error:  # pydantic's ValidationError is one too
        raise EngineError(f"unreadable response from the model server: {error}") from error


def _text(choice: AnyChoice) -> str:
    if isinstance(choice, CompletionChoice):
        return choice.text
    message = choice.message if isinstance(choice, Choice) else choice.delta
    text = message.text() if isinstance(message, ChatMessage) else message.content
    return text or ""
