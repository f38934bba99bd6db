"""Per-tenant rate limits in fixed one-minute windows: in memory, or shared through Redis."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

Kind = Literal["requests", "tokens"]
WINDOW_S = 60


class RateLimiter(Protocol):
    """Counts a tenant's requests and tokens per minute window."""

    async def add(self, tenant: str, kind: Kind, amount: int) -> int:
        """Add ``amount`` to this window's count and return the new count."""
        ...

    async def aclose(self) -> None:
        """Close connections."""
        ...


def window_left(clock: Callable[[], float] = time.time) -> int:
    """Whole seconds until the current window ends (at least 1), for Retry-After."""
    return max(1, int(WINDOW_S - clock() % WINDOW_S))


class MemoryRateLimiter:
    """For one gateway process (the SQLite single-node setup)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, Kind, int], int] = {}

    async def add(self, tenant: str, kind: Kind, amount: int) -> int:
        """Count in the current window; older windows are dropped."""
        window = int(self._clock() // WINDOW_S)
        if any(key[2] != window for key in self._counts):
            self._counts = {k: v for k, v in self._counts.items() if k[2] == window}
        key = (tenant, kind, window)
        self._counts[key] = self._counts.get(key, 0) + amount
        return self._counts[key]

    async def aclose(self) -> None:
        """Nothing to close."""


class RedisRateLimiter:
    """Shared by every replica: INCRBY on a per-window key that expires by itself."""

    def __init__(self, url: str, prefix: str = "aligngate") -> None:
        redis = importlib.import_module("redis.asyncio")
        self._redis: Any = redis.from_url(url, decode_responses=True)
        self._prefix = prefix

    async def add(self, tenant: str, kind: Kind, amount: int) -> int:
        """Atomically count in the current window across replicas."""
        window = int(time.time() // WINDOW_S)
        key = f"{self._prefix}:rate:{tenant}:{kind}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, WINDOW_S * 2)
            count, _ = await pipe.execute()
        return int(count)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
