"""Backends that need provider translation (Anthropic, Ollama, Bedrock...) via litellm.

litellm is imported on first use: it costs ~170 MB and ~3 s, which a gateway that only
talks to OpenAI-compatible servers should never pay.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator
from typing import Any

from gateway.backends.base import CallContext, ForwardRequest, ForwardResponse
from gateway.errors import (
    AuthenticationFailed,
    BackendError,
    BackendTimeout,
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
)
from gateway.protocol import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ModelCard

# Fields litellm takes as named arguments; everything else goes in extra_body.
_KNOWN_PARAMS = {
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "user",
    "tools",
    "tool_choice",
    "response_format",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
}


class LitellmBackend:
    """Calls ``litellm.acompletion`` with a fixed model string, base URL and key."""

    def __init__(
        self, *, model: str, api_base: str | None, api_key: str | None, timeout_s: float
    ) -> None:
        self._model = model
        self._api_base = api_base
        self._api_key = api_key
        self._timeout_s = timeout_s

    def _litellm(self) -> Any:
        # Without this litellm fetches its price list at import and, offline, retries ~10 s.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        return importlib.import_module("litellm")

    def _kwargs(
        self, request: ChatCompletionRequest, stream: bool, context: CallContext
    ) -> dict[str, Any]:
        body = request.to_wire()
        body.pop("model", None)
        kwargs = {key: body.pop(key) for key in list(body) if key in _KNOWN_PARAMS}
        kwargs["stream"] = stream
        if body:
            kwargs["extra_body"] = body
        if not stream:
            kwargs.pop("stream_options", None)
        trace_headers: dict[str, str] = {}
        context.span.inject(trace_headers)  # W3C trace context, sent as HTTP headers
        if trace_headers:
            kwargs["extra_headers"] = trace_headers
        return kwargs

    async def _call(self, kwargs: dict[str, Any]) -> Any:
        litellm = self._litellm()
        try:
            return await litellm.acompletion(
                model=self._model,
                api_base=self._api_base,
                api_key=self._api_key,
                timeout=self._timeout_s,
                **kwargs,
            )
        except Exception as exc:  # litellm raises its own hierarchy; map it by status
            raise _map_error(litellm, exc) from exc

    async def complete(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> ChatCompletion:
        """One completion through litellm."""
        response = await self._call(self._kwargs(request, stream=False, context=context))
        return ChatCompletion.model_validate(response.model_dump())

    async def stream(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> AsyncIterator[ChatCompletionChunk]:
        """Stream through litellm, chunk by chunk."""
        litellm = self._litellm()
        response = await self._call(self._kwargs(request, stream=True, context=context))
        try:
            async for chunk in response:
                yield ChatCompletionChunk.model_validate(chunk.model_dump(exclude_none=True))
        except Exception as exc:
            raise _map_error(litellm, exc) from exc

    async def list_models(self, context: CallContext) -> list[ModelCard]:
        """litellm gives no model list; the route's own name is listed instead."""
        return []

    async def forward(self, request: ForwardRequest, context: CallContext) -> ForwardResponse:
        """Translated providers serve chat completions only."""
        raise NotFound(f"/v1/{request.path} is not available for this model's provider")

    async def aclose(self) -> None:
        """litellm keeps its own clients."""


def _map_error(litellm: Any, exc: Exception) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "message", "") or "the backend failed")[:500]
    if isinstance(exc, litellm.Timeout):
        return BackendTimeout("the backend did not answer in time")
    if isinstance(exc, litellm.RateLimitError) or status == 429:
        return RateLimited(f"the backend is rate limiting: {message}")
    if isinstance(exc, litellm.AuthenticationError):
        return AuthenticationFailed("the backend rejected the credentials")
    if status in (400, 422):
        return InvalidRequest(f"the backend rejected the request: {message}")
    if status == 404:
        return NotFound(f"the backend does not know this model: {message}")
    return BackendError("the backend failed")
