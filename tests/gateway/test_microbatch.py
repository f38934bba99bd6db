"""The kernel's micro-batcher: the window, the size cap, partitions, cancellation, failures."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.microbatch import MicroBatcher, Waiter


class Recorder:
    """A ``run`` that records each batch's items and, when held, waits to be released."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail: Exception | None = None

    async def __call__(self, waiters: list[Waiter[str, str]]) -> list[str]:
        self.batches.append([w.item for w in waiters])
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return [w.item.upper() for w in waiters]


async def test_items_within_the_window_share_a_batch_and_later_ones_get_the_next() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8, wait_s=0.1)
    started = time.monotonic()
    first = batcher.submit("a")
    await asyncio.sleep(0.02)
    second = batcher.submit("b")
    assert await asyncio.gather(first, second) == ["A", "B"]
    assert time.monotonic() - started >= 0.09  # the window ran from the first item
    assert run.batches == [["a", "b"]]
    assert await batcher.submit("c") == "C"
    assert run.batches == [["a", "b"], ["c"]] and batcher.batches == 2


async def test_a_full_batch_goes_before_its_window_ends() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=2, wait_s=30.0)
    results = await asyncio.wait_for(
        asyncio.gather(*(batcher.submit(t) for t in "abc")), timeout=60
    )
    assert results == ["A", "B", "C"]
    assert run.batches[0] == ["a", "b"]


async def test_what_arrives_while_a_batch_runs_goes_together_next_without_a_window() -> None:
    run = Recorder()
    run.release.clear()
    batcher = MicroBatcher(run, max_batch=8)
    first = batcher.submit("a")
    await asyncio.sleep(0.01)
    later = [batcher.submit(t) for t in "bc"]
    await asyncio.sleep(0.01)
    assert run.batches == [["a"]]  # an idle batcher without a window sends at once
    run.release.set()
    assert await asyncio.gather(first, *later) == ["A", "B", "C"]
    assert run.batches == [["a"], ["b", "c"]]


async def test_a_partition_splits_a_batch_into_runs_of_like_items() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8, partition=len)
    assert await asyncio.gather(*(batcher.submit(t) for t in ["a", "bb", "c"])) == ["A", "BB", "C"]
    assert run.batches == [["a", "c"], ["bb"]]


async def test_a_cancelled_caller_leaves_the_batch_before_it_runs() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8, wait_s=0.05)
    gone, kept = batcher.submit("a"), batcher.submit("b")
    gone.cancel()
    assert await kept == "B"
    assert run.batches == [["b"]]


async def test_a_failed_run_fails_every_waiter_and_the_next_item_runs_again() -> None:
    run = Recorder()
    run.fail = RuntimeError("model down")
    batcher = MicroBatcher(run, max_batch=8)
    outcomes = await asyncio.gather(*(batcher.submit(t) for t in "ab"), return_exceptions=True)
    assert [str(o) for o in outcomes] == ["model down", "model down"]
    run.fail = None
    assert await batcher.submit("c") == "C"


async def test_closing_fails_the_running_and_the_waiting_items() -> None:
    run = Recorder()
    run.release.clear()
    batcher = MicroBatcher(run, max_batch=1)
    running, waiting = batcher.submit("a"), batcher.submit("b")
    await asyncio.sleep(0.01)
    batcher.close(RuntimeError("closed"))
    for future in (running, waiting):
        with pytest.raises(RuntimeError, match="closed"):
            await future
