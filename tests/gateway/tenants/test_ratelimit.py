"""The sliding-minute counter: no double spend around a window edge, and an honest Retry-After."""

from __future__ import annotations

import asyncio

from gateway.tenants.ratelimit import WINDOW_S, MemoryRateLimiter, Usage


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _add(limiter: MemoryRateLimiter, amount: int = 1) -> Usage:
    return asyncio.run(limiter.add("acme", "requests", amount))


def test_a_window_edge_does_not_reset_the_count() -> None:
    clock = Clock(10 * WINDOW_S + 59.0)
    limiter = MemoryRateLimiter(clock)
    for _ in range(3):
        _add(limiter)
    clock.now = 11 * WINDOW_S + 0.5  # one and a half seconds later, in the next window
    usage = _add(limiter)
    assert usage.current == 1 and usage.previous == 3
    assert usage.estimate == 4


def test_the_previous_window_slides_out() -> None:
    clock = Clock(10 * WINDOW_S)
    limiter = MemoryRateLimiter(clock)
    _add(limiter, 6)
    clock.now = 11 * WINDOW_S + WINDOW_S / 2
    assert _add(limiter, 0).estimate == 3.0
    clock.now = 12 * WINDOW_S + 1
    assert _add(limiter, 0).estimate == 0.0


def test_retry_after_is_when_the_estimate_falls_under_the_limit() -> None:
    # 6 in the previous window, 1 now, half way in: estimate 4. It is under 3 once
    # 6 * (1 - f) + 1 < 3, i.e. f > 2/3: 40 s into the window, 10 s from now.
    usage = Usage(current=1, previous=6, elapsed=0.5)
    assert usage.estimate == 4.0
    assert usage.retry_after(3) == 10
    assert Usage(current=1, previous=6, elapsed=0.5 + 10.5 / WINDOW_S).estimate == 3


def test_retry_after_waits_past_the_window_when_this_window_alone_is_over() -> None:
    usage = Usage(current=6, previous=0, elapsed=0.75)  # 15 s left
    # in the next window 6 * (1 - s/60) < 3 once s > 30 s: 45 s from now
    assert usage.retry_after(3) == 45


def test_retry_after_is_at_least_one_second() -> None:
    assert Usage(current=0, previous=0, elapsed=0.0).retry_after(3) == 1


def test_a_burst_straddling_the_edge_counts_whole_requests() -> None:
    # two just before the edge, two just after: four, not 3.99
    assert Usage(current=2, previous=2, elapsed=0.001).estimate == 4
