"""Bounded load test: hundreds of concurrent requests, no errors, no memory growth once warm.

The gateway runs as its own process in quick mode in front of the loopback
upstream process. Half the concurrent clients stream, half do not; each sends
requests back to back until the time (``ALIGNGATE_LOAD_SECONDS``, default 60)
or the request cap (``ALIGNGATE_LOAD_MAX_REQUESTS``) runs out. The gateway's
resident memory is read from ``/proc`` after a warm-up phase and then every few
seconds until the end.

Errors, 429s (there are fewer clients than the concurrency limit, so any 429 is
spurious) and memory growth are asserted (correctness); latency percentiles,
throughput and the memory samples are recorded in ``benchmark.extra_info``.

    pytest benchmarks/test_load.py --benchmark-only
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import BENCH_KEY, MODEL, quick_gateway

CONCURRENCY = 300  # under the gateway's default limit of 512 in flight, so no 429 is expected
WARMUP_SECONDS = 15.0
RSS_SAMPLE_SECONDS = 5.0
# Python's allocator keeps arenas it has used; growth beyond this once warm is a leak.
MEMORY_GROWTH_BOUND_MB = 20.0
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello"}]}


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass
class Gateway:
    """The gateway process under load."""

    url: str
    pid: int

    def rss_mb(self) -> float:
        """Resident memory of the process, from ``/proc/PID/status``."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for process {self.pid}")

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used, from ``/proc/PID/stat``."""
        # Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Tally:
    """What one phase of load saw."""

    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"stream": [], "non-stream": []}
    )
    first_chunk: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    rss_mb: list[float] = field(default_factory=list)

    def error(self, kind: str) -> None:
        """Count one failed request by kind of failure."""
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def ok(self) -> int:
        """Requests that completed correctly."""
        return sum(len(values) for values in self.latencies.values())


@pytest.fixture(scope="module")
def load_gateway(upstream_base: str) -> Iterator[Gateway]:
    """A gateway process of its own, so its memory reflects only this test's traffic."""
    with quick_gateway(upstream_base) as (url, pid):
        yield Gateway(url=url, pid=pid)


async def _one(session: aiohttp.ClientSession, url: str, stream: bool, tally: Tally) -> None:
    started = time.perf_counter()
    try:
        async with session.post(url, json={**BODY, "stream": stream}) as response:
            if response.status != 200:
                tally.error(f"http {response.status}")
                await response.read()
                return
            if stream:
                first: float | None = None
                body = b""
                async for chunk in response.content.iter_any():
                    first = first if first is not None else time.perf_counter() - started
                    body += chunk
                if not body.rstrip().endswith(b"data: [DONE]") or first is None:
                    tally.error("stream without [DONE]")
                    return
                tally.first_chunk.append(first)
            else:
                payload = await response.json()
                if not payload.get("choices"):
                    tally.error("completion without choices")
                    return
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.error(type(exc).__name__)
        return
    tally.latencies["stream" if stream else "non-stream"].append(time.perf_counter() - started)


async def _sample_rss(gateway: Gateway, tally: Tally, deadline: float) -> None:
    """The gateway's resident memory every RSS_SAMPLE_SECONDS, from the phase's start."""
    while time.perf_counter() < deadline:
        tally.rss_mb.append(round(gateway.rss_mb(), 1))
        await asyncio.sleep(RSS_SAMPLE_SECONDS)


async def _phase(gateway: Gateway, seconds: float, max_requests: int) -> tuple[Tally, float]:
    """Run CONCURRENCY clients back to back for ``seconds`` or ``max_requests``."""
    tally = Tally()
    url = f"{gateway.url}/chat/completions"
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=60)
    headers = {"authorization": f"Bearer {BENCH_KEY}"}
    started = time.perf_counter()
    deadline = started + seconds

    async def client(stream: bool) -> None:
        while time.perf_counter() < deadline and tally.sent < max_requests:
            tally.sent += 1
            await _one(session, url, stream, tally)

    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:
        sampler = asyncio.ensure_future(_sample_rss(gateway, tally, deadline))
        await asyncio.gather(*(client(stream=i % 2 == 0) for i in range(CONCURRENCY)))
        sampler.cancel()
    tally.rss_mb.append(round(gateway.rss_mb(), 1))
    return tally, time.perf_counter() - started


def _percentiles_ms(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


def _run_load(gateway: Gateway) -> dict[str, Any]:
    seconds = _env_number("ALIGNGATE_LOAD_SECONDS", 60)
    max_requests = int(_env_number("ALIGNGATE_LOAD_MAX_REQUESTS", 200_000))
    rss_start = gateway.rss_mb()
    warm, _ = asyncio.run(_phase(gateway, min(WARMUP_SECONDS, seconds), max_requests))
    rss_warm = gateway.rss_mb()
    cpu_before = gateway.cpu_seconds()
    tally, elapsed = asyncio.run(_phase(gateway, seconds, max_requests))
    cpu_used = gateway.cpu_seconds() - cpu_before
    rss_end = gateway.rss_mb()
    total = tally.ok + sum(tally.errors.values())
    return {
        "concurrency": CONCURRENCY,
        "seconds": round(elapsed, 1),
        "requests": total,
        "errors": tally.errors,
        "warmup_errors": warm.errors,
        "rate_limited": tally.errors.get("http 429", 0),
        "error_rate": sum(tally.errors.values()) / total if total else 1.0,
        "throughput_rps": round(tally.ok / elapsed, 1),
        # Throughput here depends on the machine's spare cores; CPU per request does not.
        "gateway_cpu_ms_per_request": round(cpu_used * 1000 / total, 2) if total else None,
        "gateway_cpu_share": round(cpu_used / elapsed, 2),
        "non_stream": _percentiles_ms(tally.latencies["non-stream"]),
        "stream": _percentiles_ms(tally.latencies["stream"]),
        "stream_first_chunk": _percentiles_ms(tally.first_chunk),
        "rss_start_mb": round(rss_start, 1),
        "rss_after_warmup_mb": round(rss_warm, 1),
        "rss_end_mb": round(rss_end, 1),
        # From the end of the warm-up to the end, every RSS_SAMPLE_SECONDS.
        "rss_samples_mb": tally.rss_mb,
        "rss_growth_after_warmup_mb": round(rss_end - rss_warm, 1),
        "rss_growth_bound_mb": MEMORY_GROWTH_BOUND_MB,
    }


@pytest.mark.benchmark(group="load")
def test_the_gateway_serves_hundreds_of_concurrent_clients_without_errors_or_memory_growth(
    benchmark: BenchmarkFixture, load_gateway: Gateway
) -> None:
    # One long round: the figures that matter are in extra_info, not the round's time.
    result = benchmark.pedantic(  # type: ignore[no-untyped-call]
        _run_load, args=(load_gateway,), rounds=1, iterations=1
    )
    benchmark.extra_info.update(result)
    assert result["requests"] > 0
    assert result["rate_limited"] == 0, result["errors"]
    assert result["error_rate"] == 0, result["errors"]
    assert not result["warmup_errors"], result["warmup_errors"]
    assert result["rss_growth_after_warmup_mb"] < MEMORY_GROWTH_BOUND_MB, result
