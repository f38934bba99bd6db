"""Collects concurrent calls into batches: the engine's generation and the gate's embedding.

A batch opens when its first item is submitted and closes ``wait_s`` later or as soon
as it holds ``max_batch`` items. While a batch runs, new items queue; their window has
usually passed by the time it ends, so they go together as the next batch at once:
under load the batch size grows with the arrival rate (as in continuous batching)
without a fixed delay, and an idle batcher with no window sends at once. Items
submitted in the same loop turn always share a batch (the worker runs only after the
submitter yields).

Each caller gets a future. A caller that cancels its future leaves the batch before it
runs (and ``run`` can poll ``future.cancelled()`` to free it mid-batch); a failed run
fails every waiter of that batch with the same exception; closing fails whatever waits.
The worker lives only while items wait, on the loop that submitted them, so tests
with a fresh loop each time get a fresh worker.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class Waiter(Generic[Item, Result]):
    """One submitted item, the future its caller awaits, and when it arrived (loop time)."""

    item: Item
    future: asyncio.Future[Result]
    since: float


class MicroBatcher(Generic[Item, Result]):
    """Runs submitted items through ``run`` in batches, one batch at a time.

    ``run`` gets the live waiters of one batch (their items, and their futures to poll
    for cancellation) and returns one result per waiter, in order. ``partition`` splits
    a collected batch into runs of items that may go together (e.g. one sampling setting).
    """

    def __init__(
        self,
        run: Callable[[list[Waiter[Item, Result]]], Awaitable[Sequence[Result]]],
        max_batch: int,
        wait_s: float = 0.0,
        partition: Callable[[Item], Hashable] | None = None,
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._wait_s = wait_s
        self._partition = partition
        self._waiting: deque[Waiter[Item, Result]] = deque()
        self._full = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closing: Exception | None = None
        self.batches = 0  # runs of ``run``, for tests and metrics

    def submit(self, item: Item) -> asyncio.Future[Result]:
        """Queue ``item``; the future resolves to its result or its batch's exception."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # what waited on another loop can never run here
            self._waiting.clear()
            self._loop, self._worker, self._full = loop, None, asyncio.Event()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append(Waiter(item, future, loop.time()))
        if len(self._waiting) >= self._max_batch:
            self._full.set()
        if self._worker is None:
            self._worker = loop.create_task(self._drain())
        return future

    def close(self, error: Exception) -> None:
        """Stop the worker and fail every waiting or running item with ``error``."""
        self._closing = error
        if self._worker is not None and self._worker.get_loop() is _running_loop():
            self._worker.cancel()
        if self._loop is _running_loop():
            for waiter in self._waiting:
                _fail(waiter, error)
        self._waiting.clear()
        self._worker = self._loop = None

    async def _drain(self) -> None:
        try:
            while self._waiting:
                await self._window()
                batch = [self._waiting.popleft() for _ in range(self._batch_size())]
                if len(self._waiting) < self._max_batch:
                    self._full.clear()
                for group in self._groups(batch):
                    await self._run_group(group)
        finally:
            self._worker = None

    async def _window(self) -> None:
        """Wait until the first item's window has passed or a full batch waits."""
        loop = asyncio.get_running_loop()
        remaining = self._waiting[0].since + self._wait_s - loop.time()
        if remaining > 0 and not self._full.is_set():
            try:
                await asyncio.wait_for(self._full.wait(), remaining)
            except TimeoutError:
                pass

    def _batch_size(self) -> int:
        return min(self._max_batch, len(self._waiting))

    def _groups(self, batch: list[Waiter[Item, Result]]) -> list[list[Waiter[Item, Result]]]:
        if self._partition is None:
            return [batch]
        groups: dict[Hashable, list[Waiter[Item, Result]]] = {}
        for waiter in batch:
            groups.setdefault(self._partition(waiter.item), []).append(waiter)
        return list(groups.values())

    async def _run_group(self, group: list[Waiter[Item, Result]]) -> None:
        live = [waiter for waiter in group if not waiter.future.done()]
        if not live:
            return
        self.batches += 1
        try:
            results = await self._run(live)
        except asyncio.CancelledError:  # closed mid-batch: the callers must not hang
            for waiter in live:
                _fail(waiter, self._closing or RuntimeError("batcher stopped"))
            raise
        except Exception as error:  # every waiter of this batch learns of the failure
            for waiter in live:
                _fail(waiter, error)
            return
        for waiter, result in zip(live, results, strict=True):
            if not waiter.future.done():
                waiter.future.set_result(result)


def _fail(waiter: Waiter[Item, Result], error: BaseException) -> None:
    if not waiter.future.done():
        waiter.future.set_exception(error)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
