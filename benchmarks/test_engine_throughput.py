"""Generated tokens per second of the embedded model at concurrency 1, 4 and 16.

Run: .venv/bin/pytest benchmarks/test_engine_throughput.py --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.engine_load import run_concurrently
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.transformers_engine import TransformersEngine

NEW_TOKENS = 32


@pytest.fixture(scope="module")
def engine() -> TransformersEngine:
    engine = TransformersEngine(TransformersEngineConfig())
    engine.load()
    return engine


@pytest.mark.model
@pytest.mark.benchmark(group="engine-throughput")
@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_engine_throughput(benchmark: Any, engine: TransformersEngine, concurrency: int) -> None:
    run_concurrently(engine, concurrency, NEW_TOKENS)  # warm-up (first batch pays one-off costs)
    before = engine.stats.batches
    tokens = benchmark.pedantic(run_concurrently, args=(engine, concurrency, NEW_TOKENS), rounds=2)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info["concurrency"] = concurrency
    benchmark.extra_info["generated_tokens"] = tokens
    benchmark.extra_info["tokens_per_s"] = round(tokens / seconds, 1)
    benchmark.extra_info["batches_per_round"] = (engine.stats.batches - before) / 2
    print(f"\nconcurrency {concurrency}: {tokens / seconds:.1f} tokens/s")
