"""A budget of KV-cache tokens that requests reserve before they run, waiting their turn.

llama.cpp's slots share one KV cache (``kv_unified``), so one request may use all of
it; but when the running requests together outgrow it, llama.cpp fails every one of
them ("Context size has been exceeded"), including those that were nearly done. A
request therefore reserves an upper bound of the tokens it can hold before it starts
and gives them back when its thread is done with the cache; one that does not fit
waits, in arrival order, for running ones to finish. A bound larger than the whole
cache is cut to the cache: such a request runs alone, and llama.cpp says so itself if
it truly does not fit.
"""

from __future__ import annotations

import asyncio
from collections import deque


class TokenBudget:
    """``capacity`` tokens shared by the requests running at once (first come, first served).

    Used from one event loop; ``release`` is synchronous so a thread's done-callback
    can give the tokens back.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.reserved = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def acquire(self, tokens: int) -> int:
        """Wait until ``tokens`` (at most the capacity) fit, take them, and say how many."""
        tokens = min(max(tokens, 1), self.capacity)
        # Only the oldest waiter may take tokens, so a big request is not starved by
        # small ones slipping past it.
        if not self._waiters and self.reserved + tokens <= self.capacity:
            self.reserved += tokens
            return tokens
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((tokens, granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():  # granted as it was cancelled
                self.reserved -= tokens
            self._wake()
            raise
        return tokens

    def release(self, tokens: int) -> None:
        """Give back what ``acquire`` took and let waiting requests in."""
        self.reserved -= tokens
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            tokens, granted = self._waiters[0]
            if granted.done():  # its caller gave up
                self._waiters.popleft()
                continue
            if self.reserved + tokens > self.capacity:
                return
            self._waiters.popleft()
            self.reserved += tokens
            granted.set_result(None)
