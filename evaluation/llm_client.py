"""The one chat-LLM client of the offline tools: the evaluation runs, the judges, training data.

An endpoint is reached one of two ways. ``http`` posts to an OpenAI-compatible
``/chat/completions`` with httpx and retries transport errors and retryable statuses
with doubling back-off (what the evaluation runner relies on to get through a busy
gateway). ``litellm`` sends a litellm model string (``openai/gpt-4o-mini``,
``anthropic/...``) through ``litellm.acompletion``, which retries by itself; litellm is
imported only then, so the ``http`` path works without it. Both bound the requests in
flight per event loop. Answer caching sits one level up (``evaluation.client``).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, Literal

import httpx
from httpx import Response
from pydantic import BaseModel, ConfigDict, Field

from gateway.engines.base import ChatTurn

RETRIED_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class ChatEndpoint(BaseModel):
    """Where a chat LLM is, how to reach it, and the request's decoding settings."""

    model_config = ConfigDict(frozen=True)

    model: str = Field(description="The model name sent, or a litellm model string.")
    transport: Literal["http", "litellm"] = "litellm"
    api_base: str | None = Field(default=None, description="Base URL including /v1.")
    api_key_env: str | None = Field(default=None, description="Env var with the API key.")
    label: str | None = Field(default=None, description="Names the endpoint in errors.")
    headers: dict[str, str] = Field(default_factory=dict, description="Sent with each request.")
    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int = Field(default=1024, ge=1)
    timeout_s: float = Field(default=120.0, gt=0.0)
    concurrency: int = Field(default=4, ge=1, description="Requests in flight at once.")
    retries: int = Field(default=0, ge=0, description="Retries of a failed request.")
    backoff_s: float = Field(default=1.0, ge=0.0, description="First retry delay; doubles.")


class LlmError(Exception):
    """The LLM failed a request for good (after retries, or with a client error)."""


Message = ChatTurn | Mapping[str, str]


class ChatClient:
    """Sends chat requests to one endpoint; ``require_text`` makes an empty reply an error."""

    def __init__(self, endpoint: ChatEndpoint, require_text: bool = False) -> None:
        self.endpoint = endpoint
        self.require_text = require_text
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._slots = weakref.WeakKeyDictionary()
        # The session's pool, seen by the tasks started inside it and by no other.
        self._http: ContextVar[httpx.AsyncClient | None] = ContextVar("http", default=None)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """Share one connection pool among the requests sent inside (``http`` only)."""
        async with httpx.AsyncClient(timeout=self.endpoint.timeout_s) as http:
            token = self._http.set(http)
            try:
                yield
            finally:
                self._http.reset(token)

    async def ask(self, prompt: str, system: str | None = None) -> str:
        """The reply to one user message, after an optional system message."""
        messages = [ChatTurn(role="user", content=prompt)]
        if system is not None:
            messages.insert(0, ChatTurn(role="system", content=system))
        return await self.complete(messages)

    async def complete(self, messages: Sequence[Message]) -> str:
        """The assistant's reply text."""
        body = [m.model_dump() if isinstance(m, ChatTurn) else dict(m) for m in messages]
        loop = asyncio.get_running_loop()
        slots = self._slots.setdefault(loop, asyncio.Semaphore(self.endpoint.concurrency))
        async with slots:
            if self.endpoint.transport == "litellm":
                text = await self._through_litellm(body)
            else:
                text = await self._over_http(body)
        if self.require_text and not text.strip():
            raise LlmError(f"{self._name()} returned no text")
        return text

    def _name(self) -> str:
        return self.endpoint.label or self.endpoint.model

    def _api_key(self) -> str | None:
        endpoint = self.endpoint
        if endpoint.api_key_env is not None:
            return os.environ[endpoint.api_key_env]
        # OpenAI-compatible servers without auth still want some key from litellm.
        return "none" if endpoint.api_base else None

    async def _through_litellm(self, messages: list[dict[str, Any]]) -> str:
        endpoint = self.endpoint
        # Without this litellm fetches its price list at import and, offline, retries.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        litellm = importlib.import_module("litellm")
        try:
            response = await litellm.acompletion(
                model=endpoint.model,
                messages=messages,
                api_base=endpoint.api_base,
                api_key=self._api_key(),
                temperature=endpoint.temperature,
                max_tokens=endpoint.max_tokens,
                num_retries=endpoint.retries,
                timeout=endpoint.timeout_s,
            )
        except Exception as error:  # litellm has its own exception hierarchy
            raise LlmError(f"{self._name()}: {error}") from error
        return str(response.choices[0].message.content or "")

    async def _over_http(self, messages: list[dict[str, Any]]) -> str:
        shared = self._http.get()
        if shared is not None:
            return await self._with_retries(shared, messages)
        # Outside a session each request has its own pool, closed when it is done.
        async with httpx.AsyncClient(timeout=self.endpoint.timeout_s) as http:
            return await self._with_retries(http, messages)

    async def _with_retries(self, http: httpx.AsyncClient, messages: list[dict[str, Any]]) -> str:
        endpoint = self.endpoint
        for attempt in range(endpoint.retries + 1):
            try:
                response = await self._post(http, messages)
            except httpx.TransportError as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    message = response.json()["choices"][0]["message"]
                    return str(message.get("content") or "")
                failure = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in RETRIED_STATUS:
                    break
            if attempt < endpoint.retries:
                await asyncio.sleep(endpoint.backoff_s * 2**attempt)
        raise LlmError(f"{self._name()}: {failure}")

    async def _post(self, http: httpx.AsyncClient, messages: list[dict[str, Any]]) -> Response:
        endpoint = self.endpoint
        if endpoint.api_base is None:
            raise LlmError(f"{self._name()}: an http endpoint needs api_base")
        headers = dict(endpoint.headers)
        if endpoint.api_key_env:
            headers["authorization"] = f"Bearer {os.environ[endpoint.api_key_env]}"
        body = {
            "model": endpoint.model,
            "messages": messages,
            "max_tokens": endpoint.max_tokens,
            "temperature": endpoint.temperature,
        }
        url = f"{endpoint.api_base.rstrip('/')}/chat/completions"
        return await http.post(url, json=body, headers=headers)
