"""Load shedding: past capacity, new requests get a fast 503 instead of a long queue.

The gateway's queue is its event loop: once it has more work than CPU, every
request waits behind all the others, so latency grows for everyone and the
tail goes to seconds. How late the loop runs a timer measures that wait
directly. While it is above ``max_loop_lag_s``, new API requests are refused
at once with 503 and ``Retry-After`` (refusing costs a fraction of serving),
so the ones already admitted finish in bounded time; health, readiness and
metrics keep answering, so the gateway is seen as busy, not dead.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import Overloaded, error_response
from gateway.middleware import request_id_from
from gateway.observability import Observer

# How often the loop's lateness is sampled; the lag is known to within this.
SAMPLE_S = 0.025
# The lag is the least lateness of this many last samples: overload makes every one
# late, while one stall (a lazy import on a first request, a GC pause) is a single late
# sample and must not refuse the requests right behind it.
WINDOW = 4


class LoopLag:
    """How late the event loop runs a timer, sustained: the wait in front of new work."""

    def __init__(self, sample_s: float = SAMPLE_S) -> None:
        self._sample_s = sample_s
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._task: asyncio.Task[None] | None = None

    @property
    def lag_s(self) -> float:
        """The sustained lateness: the least of the last samples (0 until there are enough)."""
        return min(self._recent) if len(self._recent) == WINDOW else 0.0

    def ensure_running(self) -> None:
        """Start sampling in the running loop, once (on the first request)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self._sample_s)
            self._recent.append(max(0.0, loop.time() - before - self._sample_s))

    def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()


class LoadSheddingMiddleware:
    """Refuses new API requests with 503 and Retry-After while the loop lags past the limit."""

    def __init__(
        self, app: ASGIApp, max_loop_lag_s: float, observer: Observer, lag: LoopLag | None = None
    ) -> None:
        self.app = app
        self.max_loop_lag_s = max_loop_lag_s
        self.observer = observer
        self.lag = lag or LoopLag()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit, or refuse at once while overloaded."""
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        self.lag.ensure_running()
        if self.lag.lag_s > self.max_loop_lag_s:
            error = Overloaded(
                "the gateway is over capacity; retry shortly",
                code="overloaded",
                headers={"retry-after": str(max(1, math.ceil(self.lag.lag_s)))},
            )
            self.observer.rejected(request_id_from(scope), scope["path"], error)
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)
