"""The one chat-LLM client of the offline tools: the evaluation runs, the judges, training data.

An endpoint is reached one of two ways. ``http`` posts to an OpenAI-compatible
``/chat/completions`` with the official ``openai`` SDK, whose retries are the ones a
busy gateway expects: connection errors, 408/409/429 and 5xx are retried with jittered
doubling back-off, and a ``Retry-After`` (or ``retry-after-ms``) the server sends is
waited out instead. ``litellm`` sends a litellm model string (``openai/gpt-4o-mini``,
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
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.engines.base import ChatTurn

if TYPE_CHECKING:
    from openai import AsyncOpenAI


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
    retries: int = Field(
        default=0, ge=0, description="Retries of a failed request (the server's Retry-After wins)."
    )


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
        # The session's SDK client (one pool), seen by the tasks started inside it only.
        self._http: ContextVar[AsyncOpenAI | None] = ContextVar("http", default=None)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """Share one connection pool among the requests sent inside (``http`` only)."""
        async with self._sdk_client() as http:
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
            return await self._post(shared, messages)
        # Outside a session each request has its own pool, closed when it is done.
        async with self._sdk_client() as http:
            return await self._post(http, messages)

    def _sdk_client(self) -> AsyncOpenAI:
        import openai

        endpoint = self.endpoint
        if endpoint.api_base is None:
            raise LlmError(f"{self._name()}: an http endpoint needs api_base")
        # An explicit key, so the SDK never reads OPENAI_API_KEY and sends it to this host.
        key = os.environ[endpoint.api_key_env] if endpoint.api_key_env else "none"
        return openai.AsyncOpenAI(
            api_key=key,
            base_url=endpoint.api_base,
            default_headers=endpoint.headers,
            timeout=endpoint.timeout_s,
            max_retries=endpoint.retries,
        )

    async def _post(self, http: AsyncOpenAI, messages: list[dict[str, Any]]) -> str:
        import openai

        endpoint = self.endpoint
        # Without a key variable no authorization header is sent at all.
        unsigned = {} if endpoint.api_key_env else {"Authorization": openai.Omit()}
        try:
            response = await http.chat.completions.create(
                model=endpoint.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=endpoint.max_tokens,
                temperature=endpoint.temperature,
                extra_headers=unsigned,
            )
        except openai.APIStatusError as error:
            detail = f"HTTP {error.status_code}: {error.response.text[:200]}"
            raise LlmError(f"{self._name()}: {detail}") from error
        except openai.APIError as error:  # connection failures and timeouts, after retries
            raise LlmError(f"{self._name()}: {type(error).__name__}: {error}") from error
        return str(response.choices[0].message.content or "")
