"""Concurrent generation requests for the engine benchmarks: one prompt set, one driver."""

from __future__ import annotations

import asyncio

from gateway.engines.base import ChatTurn, Engine, GenerationRequest

TOPICS = ["the sea", "a city", "winter", "music", "a garden", "trains", "the moon", "bread"]


def run_concurrently(engine: Engine, concurrency: int, new_tokens: int) -> int:
    """Send ``concurrency`` single-request calls at once; return the tokens generated."""
    requests = [
        GenerationRequest(
            messages=[ChatTurn(role="user", content=f"Write a story about {TOPICS[i % 8]}.")],
            max_tokens=new_tokens,
        )
        for i in range(concurrency)
    ]

    async def main() -> int:
        results = await asyncio.gather(*(engine.generate([r]) for r in requests))
        return sum(result.completion_tokens for (result,) in results)

    return asyncio.run(main())
