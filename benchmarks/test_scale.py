"""Pass-through at scale: the gateway against LiteLLM's proxy, in one run, same client.

Each target is its own process in front of ``tests.support.fast_upstream`` (a bare
asyncio server, so the upstream is never the bottleneck): the gateway in quick
mode (one worker, then ``--workers 2``) and LiteLLM's proxy with one worker.
Every row is closed-loop load from ``tests.support.load_driver`` for
``ALIGNGATE_SCALE_SECONDS`` (default 10) after a 2 s warm-up; throughput,
percentiles, errors and the gateway's CPU per request go to ``extra_info``.
The machine's spare cores decide absolute req/s; compare rows of one run.

    pytest benchmarks/test_scale.py --benchmark-only --benchmark-json scale.json
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import BENCH_KEY, GATEWAY_ENV, litellm_proxy_process
from tests.support.load_driver import drive
from tests.support.processes import aligngate, python_module, running_process
from tests.support.servers import free_port

SECONDS = float(os.environ.get("ALIGNGATE_SCALE_SECONDS", "10"))
SLOW_UPSTREAM_MS = 50


@contextmanager
def _fast_upstream(delay_ms: float) -> Iterator[str]:
    port = free_port()
    with running_process(
        python_module("tests.support.fast_upstream", str(port), str(delay_ms)),
        f"http://127.0.0.1:{port}/v1/models",
    ):
        yield f"http://127.0.0.1:{port}/v1"


@contextmanager
def _gateway(upstream: str, workers: int = 1) -> Iterator[tuple[str, list[int]]]:
    """``aligngate serve --upstream``: base URL and the pids that serve (the workers)."""
    port = free_port()
    args = ["serve", "--upstream", upstream, "--port", str(port), "--log-level", "warning"]
    if workers > 1:
        args += ["--workers", str(workers)]
    url = f"http://127.0.0.1:{port}"
    with running_process(aligngate(*args), f"{url}/healthz", env=GATEWAY_ENV) as process:
        pids = [process.pid]
        if workers > 1:
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
            pids = [int(pid) for pid in children.split()]
        yield f"{url}/v1", pids


@pytest.fixture(scope="module")
def slow_upstream() -> Iterator[str]:
    """The upstream answering after 50 ms, as a model would, without spending CPU."""
    with _fast_upstream(SLOW_UPSTREAM_MS) as url:
        yield url


@pytest.fixture(scope="module")
def instant_upstream() -> Iterator[str]:
    """The upstream answering at once: the gateway's CPU is then the only limit."""
    with _fast_upstream(0) as url:
        yield url


def _cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


def _load(url: str, pids: list[int], concurrency: int) -> dict[str, Any]:
    before, rss_before = _cpu_s(pids), _rss_mb(pids)
    result = asyncio.run(drive(url, concurrency, SECONDS, api_key=BENCH_KEY))
    summary = result.summary()
    served = summary["ok"] + sum(summary["errors"].values())
    # Includes the 2 s warm-up's requests, so it is counted over both phases.
    cpu = _cpu_s(pids) - before
    summary["cpu_ms_per_request"] = round(cpu * 1000 / max(1, served * (1 + 2 / SECONDS)), 3)
    summary["rss_mb_before"], summary["rss_mb_after"] = rss_before, _rss_mb(pids)
    summary["load_average"] = os.getloadavg()
    return summary


def _record(benchmark: BenchmarkFixture, url: str, pids: list[int], concurrency: int) -> None:
    summary: dict[str, Any] = {}

    def run() -> None:
        summary.update(_load(url, pids, concurrency))

    benchmark.pedantic(run, rounds=1, iterations=1)  # type: ignore[no-untyped-call]
    benchmark.extra_info.update(summary)


@pytest.mark.parametrize("concurrency", [16, 256])
@pytest.mark.benchmark(group="scale-50ms-upstream")
def test_gateway_one_worker(
    benchmark: BenchmarkFixture, slow_upstream: str, concurrency: int
) -> None:
    with _gateway(slow_upstream) as (url, pids):
        _record(benchmark, url, pids, concurrency)


@pytest.mark.parametrize("concurrency", [16, 256])
@pytest.mark.benchmark(group="scale-50ms-upstream")
def test_litellm_proxy_one_worker(
    benchmark: BenchmarkFixture, slow_upstream: str, concurrency: int, tmp_path: Path
) -> None:
    with litellm_proxy_process(slow_upstream, tmp_path) as url:
        # The proxy's pid is not needed for its throughput; its CPU is not reported.
        summary: dict[str, Any] = {}

        def run() -> None:
            result = asyncio.run(drive(url, concurrency, SECONDS, api_key=BENCH_KEY))
            summary.update(result.summary(), load_average=os.getloadavg())

        benchmark.pedantic(run, rounds=1, iterations=1)  # type: ignore[no-untyped-call]
        benchmark.extra_info.update(summary)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.benchmark(group="scale-workers")
def test_gateway_workers(benchmark: BenchmarkFixture, instant_upstream: str, workers: int) -> None:
    with _gateway(instant_upstream, workers) as (url, pids):
        _record(benchmark, url, pids, 64)
