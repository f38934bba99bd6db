"""A progress bar with rate and ETA over awaitables run concurrently (the data commands)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def gather_with_progress(awaitables: Sequence[Awaitable[T]], desc: str) -> list[T]:
    """``asyncio.gather`` of ``awaitables`` (results in order) with a tqdm bar on stderr."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(awaitables), desc=desc, unit="item")

    async def counted(awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        finally:
            bar.update(1)

    try:
        return list(await asyncio.gather(*(counted(a) for a in awaitables)))
    finally:
        bar.close()
