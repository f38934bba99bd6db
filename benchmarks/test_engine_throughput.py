"""Generated tokens per second of the embedded model at concurrency 1, 4 and 16.

Run: .venv/bin/pytest benchmarks/test_engine_throughput.py --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.engines.base import ChatTurn, GenerationRequest
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.transformers_engine import TransformersEngine

NEW_TOKENS = 32
TOPICS = ["the sea", "a city", "winter", "music", "a garden", "trains", "the moon", "bread"]


@pytest.fixture(scope="module")
def engine() -> TransformersEngine:
    engine = TransformersEngine(TransformersEngineConfig())
    engine.load()
    return engine


def run_concurrently(engine: TransformersEngine, concurrency: int) -> int:
    """Send ``concurrency`` single-request calls at once; return the tokens generated."""
    requests = [
        GenerationRequest(
            messages=[ChatTurn(role="user", content=f"Write a story about {TOPICS[i % 8]}.")],
            max_tokens=NEW_TOKENS,
        )
        for i in range(concurrency)
    ]

    async def main() -> int:
        results = await asyncio.gather(*(engine.generate([r]) for r in requests))
        return sum(result.completion_tokens for (result,) in results)

    return asyncio.run(main())


@pytest.mark.model
@pytest.mark.benchmark(group="engine-throughput")
@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_engine_throughput(benchmark: Any, engine: TransformersEngine, concurrency: int) -> None:
    run_concurrently(engine, concurrency)  # warm-up (first batch pays one-off costs)
    before = engine.stats.batches
    tokens = benchmark.pedantic(run_concurrently, args=(engine, concurrency), rounds=2)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info["concurrency"] = concurrency
    benchmark.extra_info["generated_tokens"] = tokens
    benchmark.extra_info["tokens_per_s"] = round(tokens / seconds, 1)
    benchmark.extra_info["batches_per_round"] = (engine.stats.batches - before) / 2
    print(f"\nconcurrency {concurrency}: {tokens / seconds:.1f} tokens/s")
