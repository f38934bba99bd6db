"""Both embedded engines side by side in one run: single-stream decode and concurrency 16.

Run: nice -n 15 .venv/bin/pytest benchmarks/test_engine_speed.py --benchmark-only -s
Each case reports wall tokens/s and tokens per CPU-second of the whole process (the
latter is less sensitive to other work on a shared host), and the RSS after the case.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.engine_load import run_concurrently
from gateway.engines.base import Engine
from gateway.engines.config import LlamaCppEngineConfig, TransformersEngineConfig
from gateway.engines.llamacpp_engine import LlamaCppEngine

NEW_TOKENS = 64


# llama.cpp's (one-token, wider-step) thread counts: one for both, two for both, and the
# engine's default, one for a single stream and every core for the rest.
LLAMACPP_THREADS = {
    "llamacpp-1-1": (1, 1),
    "llamacpp-2-2": (2, 2),
    "llamacpp-default": (1, None),
}


@pytest.fixture(scope="module", params=["transformers", *LLAMACPP_THREADS])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Each engine in turn on the embedded model, loaded once for its cases."""
    if request.param == "transformers":
        from gateway.engines.transformers_engine import TransformersEngine

        transformers = TransformersEngine(TransformersEngineConfig())
        transformers.load()
        yield transformers
        asyncio.run(transformers.aclose())
    else:
        threads, batch = LLAMACPP_THREADS[request.param]
        llamacpp = LlamaCppEngine(LlamaCppEngineConfig(threads=threads, batch_threads=batch))
        llamacpp.load()
        yield llamacpp
        asyncio.run(llamacpp.aclose())


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.model
@pytest.mark.benchmark(group="engine-speed")
@pytest.mark.parametrize("concurrency", [1, 16])
def test_engine_speed(benchmark: Any, engine: Engine, concurrency: int) -> None:
    run_concurrently(engine, concurrency, NEW_TOKENS)  # warm-up (first batch pays one-off costs)
    cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
    tokens = benchmark.pedantic(run_concurrently, args=(engine, concurrency, NEW_TOKENS), rounds=2)
    cpu = _cpu_seconds() - cpu_before
    wall = time.perf_counter() - wall_before
    name = type(engine).__name__
    if isinstance(engine, LlamaCppEngine):
        wider = engine.config.batch_threads or "every core"  # None: every core, as the engine
        name += f" ({engine.config.threads}/{wider} threads)"
    benchmark.extra_info.update(
        engine=name,
        concurrency=concurrency,
        generated_tokens=tokens,
        tokens_per_s=round(2 * tokens / wall, 1),
        tokens_per_cpu_s=round(2 * tokens / cpu, 1),
        rss_mb=round(rss_mb()),
    )
    print(
        f"\n{name} concurrency {concurrency}: {2 * tokens / wall:.1f} tokens/s, "
        f"{2 * tokens / cpu:.1f} tokens/CPU-s, RSS {rss_mb():.0f} MB"
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
