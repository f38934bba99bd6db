"""Retries, a circuit breaker and fallbacks around backends, all before the first byte."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

import structlog

from gateway.backends.base import Backend, CallContext, ForwardRequest, ForwardResponse
from gateway.config import BreakerConfig, RetryConfig
from gateway.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    GatewayError,
    RateLimited,
)
from gateway.protocol import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ModelCard

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Failures another try may fix; a client's own mistake (400, 401, 404) is never retried.
RETRYABLE = (BackendError, BackendTimeout, RateLimited, BackendUnavailable)


class CircuitBreaker:
    """Opens after N consecutive failures; after a pause lets one probe through (half-open)."""

    def __init__(self, config: BreakerConfig, clock: Callable[[], float] = time.monotonic):
        self._config = config
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        """'closed', 'open' or 'half-open'."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._config.reset_after_s:
            return "half-open"
        return "open"

    def before_call(self) -> bool:
        """Raise 503 while open; in half-open, let exactly one probe through (returns True)."""
        state = self.state
        if state == "closed":
            return False
        if state == "half-open" and not self._probing:
            self._probing = True
            return True
        assert self._opened_at is not None
        wait = max(1, round(self._config.reset_after_s - (self._clock() - self._opened_at)))
        raise BackendUnavailable(
            "the backend is failing repeatedly; its circuit is open",
            code="circuit_open",
            headers={"retry-after": str(wait)},
        )

    def success(self) -> None:
        """The backend answered: close the circuit."""
        self._failures, self._opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        """A call failed: count it, and open (or re-open) the circuit at the threshold."""
        self._failures += 1
        if self._probing or self._failures >= self._config.failures:
            if self._opened_at is None or self._probing:
                log.warning("circuit_opened", failures=self._failures)
            self._opened_at, self._probing = self._clock(), False

    def release(self, probe: bool) -> None:
        """A call ended without a verdict on the backend: free the probe slot it held."""
        if probe:
            self._probing = False


class ResilientBackend:
    """Wraps one backend with retries and its circuit breaker."""

    def __init__(self, inner: Backend, retry: RetryConfig, breaker: CircuitBreaker) -> None:
        self._inner = inner
        self._retry = retry
        self.breaker = breaker

    async def _attempts(self, call: Callable[[], Awaitable[T]]) -> T:
        started = time.monotonic()
        for attempt in range(1, self._retry.attempts + 1):
            try:
                return await self._guarded(call)
            except BackendUnavailable:
                raise  # the circuit is open: fail fast rather than wait out the pauses
            except RETRYABLE as exc:
                pause = self._pause(exc, attempt)
                if attempt == self._retry.attempts or pause is None:
                    raise
                if time.monotonic() - started + pause >= self._retry.budget_s:
                    raise  # past the budget, another full attempt would only add to the wait
                log.info("backend_retry", attempt=attempt, error=type(exc).__name__, pause_s=pause)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _guarded(
        self, call: Callable[[], Awaitable[T]], failed: Callable[[T], bool] = lambda _: False
    ) -> T:
        """One call through the breaker, which hears how it ended, however it ended.

        A probe that left the half-open state unresolved would keep the circuit open
        for good, so every way out (an answer, any exception, cancellation) decides it.
        """
        probe = self.breaker.before_call()
        try:
            result = await call()
        except RETRYABLE:
            self.breaker.failure()
            raise
        except GatewayError:
            self.breaker.success()  # a 400/401/404 is the client's mistake: the backend answered
            raise
        except BaseException:
            self.breaker.release(probe)  # cancelled, or the gateway's own fault: no verdict
            raise
        if failed(result):
            self.breaker.failure()
        else:
            self.breaker.success()
        return result

    def _pause(self, exc: GatewayError, attempt: int) -> float | None:
        retry_after = exc.headers.get("retry-after")
        if isinstance(exc, RateLimited) and retry_after is not None:
            seconds = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else None
            if seconds is None or seconds > self._retry.max_retry_after_s:
                return None  # the client is better told to come back later itself
            return seconds
        base: float = self._retry.backoff_s * 2 ** (attempt - 1)
        return base * random.uniform(0.5, 1.5)

    async def complete(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> ChatCompletion:
        """A completion, retried while nothing was sent to the client."""
        return await self._attempts(lambda: self._inner.complete(request, context))

    async def stream(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> AsyncIterator[ChatCompletionChunk]:
        """A stream whose opening (up to the first chunk) is retried; never after."""
        opened = await self._attempts(lambda: _open(self._inner.stream(request, context)))
        async for chunk in _resume(*opened):
            yield chunk

    async def list_models(self, context: CallContext) -> list[ModelCard]:
        """Delegate."""
        return await self._inner.list_models(context)

    async def forward(self, request: ForwardRequest, context: CallContext) -> ForwardResponse:
        """Forwarded routes are not retried (their bodies may not be idempotent), only guarded."""
        return await self._guarded(
            lambda: self._inner.forward(request, context),
            failed=lambda response: _is_backend_failure(response.status_code),
        )

    async def aclose(self) -> None:
        """Close the wrapped backend."""
        await self._inner.aclose()


class FallbackBackend:
    """Tries backends in order until one answers; used for a model's fallbacks."""

    def __init__(
        self, backends: Sequence[Backend], on_fallback: Callable[[], None] = lambda: None
    ) -> None:
        self._backends = list(backends)
        self._on_fallback = on_fallback

    async def _first(self, call: Callable[[Backend], Awaitable[T]]) -> T:
        for index, backend in enumerate(self._backends):
            try:
                return await call(backend)
            except RETRYABLE as exc:
                if index == len(self._backends) - 1:
                    raise
                log.warning("backend_fallback", to=index + 1, error=type(exc).__name__)
                self._on_fallback()
        raise AssertionError("unreachable")

    async def complete(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> ChatCompletion:
        """The first backend that completes."""
        return await self._first(lambda b: b.complete(request, context))

    async def stream(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> AsyncIterator[ChatCompletionChunk]:
        """The first backend whose stream opens."""
        opened = await self._first(lambda b: _open(b.stream(request, context)))
        async for chunk in _resume(*opened):
            yield chunk

    async def list_models(self, context: CallContext) -> list[ModelCard]:
        """The primary's models."""
        return await self._backends[0].list_models(context)

    async def forward(self, request: ForwardRequest, context: CallContext) -> ForwardResponse:
        """Forwarded routes go to the primary only."""
        return await self._backends[0].forward(request, context)

    async def aclose(self) -> None:
        """The wrapped backends are closed by their owner."""


def _is_backend_failure(status: int) -> bool:
    """Statuses of a forwarded answer that count against the backend, as they do for chat."""
    return status == 429 or (status >= 500 and status != 501)


async def _open(
    chunks: AsyncIterator[ChatCompletionChunk],
) -> tuple[AsyncIterator[ChatCompletionChunk], ChatCompletionChunk | None]:
    """Pull the first chunk so a failure to open surfaces here, where retrying is safe."""
    iterator = aiter(chunks)
    try:
        return iterator, await anext(iterator)
    except StopAsyncIteration:
        return iterator, None
    except BaseException:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
        raise


async def _resume(
    chunks: AsyncIterator[ChatCompletionChunk], first: ChatCompletionChunk | None
) -> AsyncIterator[ChatCompletionChunk]:
    """The opened stream again, from its first chunk."""
    if first is None:
        return
    yield first
    async for chunk in chunks:
        yield chunk
