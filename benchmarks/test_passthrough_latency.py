"""Added latency of the gateway in pass-through mode, against calling the upstream directly.

All targets are measured in one run, side by side (groups ``passthrough`` and
``passthrough-stream``): the upstream alone, the gateway's direct
OpenAI-compatible path, the same gateway going through litellm, and LiteLLM's
own proxy in front of the same upstream, so the ratios between them are fair.
Turn the JSON of a run into a table and a chart with ``python -m benchmarks.report``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import BENCH_KEY, MODEL

# pytest-benchmark sizes rounds from one calibration call; a slow first call would
# leave a target with only 5 rounds, so every target gets at least this many.
MIN_ROUNDS = 50
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello"}]}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One keep-alive client, as an app would hold."""
    with httpx.Client(timeout=30, headers={"authorization": f"Bearer {BENCH_KEY}"}) as client:
        yield client


def _chat(http: httpx.Client, base: str, stream: bool) -> None:
    body = {**BODY, "stream": stream}
    if stream:
        with http.stream("POST", f"{base}/chat/completions", json=body) as response:
            assert response.status_code == 200
            for _ in response.iter_bytes():
                pass
    else:
        response = http.post(f"{base}/chat/completions", json=body)
        assert response.status_code == 200, response.text


def _warm(http: httpx.Client, base: str, stream: bool) -> None:
    # Connections, first-request imports and caches warm up outside the measurement.
    for _ in range(3):
        _chat(http, base, stream)


@pytest.mark.benchmark(group="passthrough", min_rounds=MIN_ROUNDS)
def test_upstream_called_directly(
    benchmark: BenchmarkFixture, http: httpx.Client, upstream_base: str
) -> None:
    _warm(http, upstream_base, False)
    benchmark(_chat, http, upstream_base, False)


@pytest.mark.benchmark(group="passthrough", min_rounds=MIN_ROUNDS)
def test_gateway_direct_path(
    benchmark: BenchmarkFixture, http: httpx.Client, gateway_direct: str
) -> None:
    _warm(http, gateway_direct, False)
    benchmark(_chat, http, gateway_direct, False)


@pytest.mark.benchmark(group="passthrough", min_rounds=MIN_ROUNDS)
def test_gateway_through_litellm(
    benchmark: BenchmarkFixture, http: httpx.Client, gateway_litellm: str
) -> None:
    _warm(http, gateway_litellm, False)
    benchmark(_chat, http, gateway_litellm, False)


@pytest.mark.benchmark(group="passthrough", min_rounds=MIN_ROUNDS)
def test_litellm_proxy(benchmark: BenchmarkFixture, http: httpx.Client, litellm_proxy: str) -> None:
    _warm(http, litellm_proxy, False)
    benchmark(_chat, http, litellm_proxy, False)


@pytest.mark.benchmark(group="passthrough-stream", min_rounds=MIN_ROUNDS)
def test_upstream_called_directly_streaming(
    benchmark: BenchmarkFixture, http: httpx.Client, upstream_base: str
) -> None:
    _warm(http, upstream_base, True)
    benchmark(_chat, http, upstream_base, True)


@pytest.mark.benchmark(group="passthrough-stream", min_rounds=MIN_ROUNDS)
def test_gateway_direct_path_streaming(
    benchmark: BenchmarkFixture, http: httpx.Client, gateway_direct: str
) -> None:
    _warm(http, gateway_direct, True)
    benchmark(_chat, http, gateway_direct, True)


@pytest.mark.benchmark(group="passthrough-stream", min_rounds=MIN_ROUNDS)
def test_gateway_through_litellm_streaming(
    benchmark: BenchmarkFixture, http: httpx.Client, gateway_litellm: str
) -> None:
    _warm(http, gateway_litellm, True)
    benchmark(_chat, http, gateway_litellm, True)


@pytest.mark.benchmark(group="passthrough-stream", min_rounds=MIN_ROUNDS)
def test_litellm_proxy_streaming(
    benchmark: BenchmarkFixture, http: httpx.Client, litellm_proxy: str
) -> None:
    _warm(http, litellm_proxy, True)
    benchmark(_chat, http, litellm_proxy, True)
