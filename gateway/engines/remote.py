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
from pydantic import BaseModel, ValidationError

from gateway.engines.base import EngineError, GenerationRequest, GenerationResult
from gateway.engines.config import RemoteEngineConfig
from gateway.sse import iter_data


class _Message(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    text: str | None = None
    message: _Message | None = None
    delta: _Message | None = None
    finish_reason: str | None = None

    def content(self) -> str:
        for part in (
            self.text,
            self.message and self.message.content,
            self.delta and self.delta.content,
        ):
            if part:
                return part
        return ""


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Response(BaseModel):
    """The fields read from a completion, chat completion or stream chunk."""

    choices: list[_Choice] = []
    usage: _Usage | None = None


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

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Yield text pieces from the server's server-sent events."""
        path, body = self._body(request, stream=True)
        try:
            async with self._client.stream("POST", path, json=body) as response:
                await _raise_for_status(response)
                async for payload in iter_data(response.aiter_lines()):
                    chunk = _parse(payload)
                    if chunk.choices and (piece := chunk.choices[0].content()):
                        yield piece
        except httpx.HTTPError as error:
            raise EngineError(f"{self._client.base_url}{path}: {error!r}") from error

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
        parsed = _parse(response.text)
        if not parsed.choices:
            raise EngineError(f"{path}: response has no choices")
        choice, usage = parsed.choices[0], parsed.usage or _Usage()
        return GenerationResult(
            text=choice.content(),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
        )

    def _body(self, request: GenerationRequest, *, stream: bool) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": request.adapter or self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": stream,
        }
        if request.stop:
            body["stop"] = request.stop
        if request.messages is not None:
            body["messages"] = [turn.model_dump() for turn in request.messages]
            return "chat/completions", body
        body["prompt"] = request.prompt
        return "completions", body


async def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    detail = (await response.aread()).decode(errors="replace")[:500]
    raise EngineError(f"{response.request.url} answered {response.status_code}: {detail}")


def _parse(payload: str) -> _Response:
    try:
        return _Response.model_validate(json.loads(payload))
    except (ValueError, ValidationError) as error:
        raise EngineError(f"unreadable response from the model server: {error}") from error
