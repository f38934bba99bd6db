"""The loop lag the shedder acts on: sustained lateness, not one stall."""

from __future__ import annotations

import asyncio
import time

from gateway.admission import WINDOW, LoopLag


async def test_one_stall_of_the_loop_is_not_overload() -> None:
    lag = LoopLag(sample_s=0.01)
    lag.ensure_running()
    await asyncio.sleep(0.1)
    time.sleep(0.5)  # a lazy import on a first request blocks the loop once
    await asyncio.sleep(0.025)
    assert lag.lag_s < 0.1
    lag.stop()


async def test_a_loop_late_on_every_turn_is_overloaded() -> None:
    lag = LoopLag(sample_s=0.01)
    lag.ensure_running()
    for _ in range(WINDOW * 8):  # more work than the loop gets through, turn after turn
        time.sleep(0.06)
        await asyncio.sleep(0)
    assert lag.lag_s > 0.04
    lag.stop()
