"""A span per backend attempt: the wrapper sits under retries, so each try is its own span.

Under ``ResilientBackend`` every retry calls this again, and every fallback has its own
wrapped backend, so retries and fallbacks show as separate children of the request
span, failed ones marked failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from gateway.backends.base import Backend, CallContext, ForwardRequest, ForwardResponse
from gateway.protocol import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ModelCard
from gateway.tracing.genai import ResponseFacts, record_failure, request_attributes, watched
from gateway.tracing.seam import Attributes, Span


class TracedBackend:
    """Wraps one backend; each chat call is one client span named ``chat {model}``."""

    def __init__(
        self, inner: Backend, *, route: str, kind: str, model: str, api_base: str | None
    ) -> None:
        self._inner = inner
        self._route = route
        self._kind = kind
        self._model = model  # '*': the requested model goes upstream
        url = urlsplit(api_base) if api_base else None
        self._server: Attributes = (
            {"server.address": url.hostname, "server.port": url.port} if url is not None else {}
        )

    def _attempt(self, request: ChatCompletionRequest, context: CallContext) -> Span:
        model = request.model if self._model == "*" else self._model
        attributes = {
            **request_attributes("chat", model),
            **self._server,
            "aligngate.route": self._route,
            "aligngate.backend.kind": self._kind,
        }
        return context.span.child(f"chat {model}", attributes, kind="client")

    async def complete(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> ChatCompletion:
        """One attempt at a completion, in its own span."""
        span = self._attempt(request, context)
        try:
            completion = await self._inner.complete(
                request, context.model_copy(update={"span": span})
            )
            facts = ResponseFacts()
            facts.see_completion(completion)
            span.set(facts.attributes())
            return completion
        except Exception as exc:
            record_failure(span, exc)
            raise
        finally:
            span.end()

    async def stream(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> AsyncIterator[ChatCompletionChunk]:
        """One attempt at a stream; its span lasts until the stream ends or breaks."""
        span = self._attempt(request, context)
        facts = ResponseFacts()
        chunks = self._inner.stream(request, context.model_copy(update={"span": span}))
        try:
            async for chunk in watched(chunks, facts):
                yield chunk
        except (GeneratorExit, asyncio.CancelledError):
            span.set({"aligngate.cancelled": True})  # the client left: no failure of the backend
            raise
        except Exception as exc:
            record_failure(span, exc)
            raise
        finally:
            span.set(facts.attributes())
            span.end()

    async def list_models(self, context: CallContext) -> list[ModelCard]:
        """Delegate."""
        return await self._inner.list_models(context)

    async def forward(self, request: ForwardRequest, context: CallContext) -> ForwardResponse:
        """Delegate: forwarded routes are not generation and get no span."""
        return await self._inner.forward(request, context)

    async def aclose(self) -> None:
        """Close the wrapped backend."""
        await self._inner.aclose()
