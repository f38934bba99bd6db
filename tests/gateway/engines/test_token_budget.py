"""The KV-token budget: requests wait until they fit, in arrival order, and give back on cancel."""

from __future__ import annotations

import asyncio

from gateway.engines.token_budget import TokenBudget


async def test_a_request_that_does_not_fit_waits_for_one_to_finish() -> None:
    budget = TokenBudget(100)
    first = await budget.acquire(70)
    waiting = asyncio.ensure_future(budget.acquire(50))
    await asyncio.sleep(0)
    assert not waiting.done()
    budget.release(first)
    assert await waiting == 50
    assert budget.reserved == 50


async def test_waiters_go_in_arrival_order_so_a_big_one_is_not_starved() -> None:
    budget = TokenBudget(100)
    held = await budget.acquire(60)
    big = asyncio.ensure_future(budget.acquire(90))
    await asyncio.sleep(0)
    small = asyncio.ensure_future(budget.acquire(20))  # would fit now, but arrived later
    await asyncio.sleep(0)
    assert not small.done()
    budget.release(held)
    assert await big == 90
    await asyncio.sleep(0)
    assert not small.done()
    budget.release(90)
    assert await small == 20


async def test_a_bound_over_the_capacity_runs_alone() -> None:
    budget = TokenBudget(100)
    assert await budget.acquire(10_000) == 100
    budget.release(100)
    assert budget.reserved == 0


async def test_a_cancelled_waiter_lets_the_next_one_in() -> None:
    budget = TokenBudget(100)
    held = await budget.acquire(80)
    gives_up = asyncio.ensure_future(budget.acquire(90))
    await asyncio.sleep(0)
    after = asyncio.ensure_future(budget.acquire(20))
    await asyncio.sleep(0)
    gives_up.cancel()
    assert await after == 20  # no longer behind the one that left
    budget.release(held)
    budget.release(20)
    assert budget.reserved == 0
