"""Added latency of the gateway in pass-through mode, against calling the upstream directly.

All targets are measured in one run, side by side (group ``passthrough``): the
upstream alone, the gateway's direct OpenAI-compatible path, and the same
gateway going through litellm, so the ratio between them is fair.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

BODY = {"model": "upstream-model", "messages": [{"role": "user", "content": "Say hello"}]}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One keep-alive client, as an app would hold."""
    with httpx.Client(timeout=30, headers={"authorization": "Bearer sk-bench"}) as client:
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


@pytest.mark.benchmark(group="passthrough")
def test_upstream_called_directly(
    benchmark: BenchmarkFixture, http: httpx.Client, upstream_base: str
) -> None:
    benchmark(_chat, http, upstream_base, False)


@pytest.mark.benchmark(group="passthrough")
def test_gateway_direct_path(
    benchmark: BenchmarkFixture, http: httpx.Client, gateway_direct: str
) -> None:
    benchmark(_chat, http, gateway_direct, False)


@pytest.mark.benchmark(group="passthrough")
def test_gateway_through_litellm(
    benchmark: BenchmarkFixture, http: httpx.Client, gateway_litellm: str
) -> None:
    benchmark(_chat, http, gateway_litellm, False)


@pytest.mark.benchmark(group="passthrough-stream")
def test_upstream_called_directly_streaming(
    benchmark: BenchmarkFixture, http: httpx.Client, upstream_base: str
) -> None:
    benchmark(_chat, http, upstream_base, True)


@pytest.mark.benchmark(group="passthrough-stream")
def test_gateway_direct_path_streaming(
    benchmark: BenchmarkFixture, http: httpx.Client, gateway_direct: str
) -> None:
    benchmark(_chat, http, gateway_direct, True)


@pytest.mark.benchmark(group="passthrough-stream")
def test_gateway_through_litellm_streaming(
    benchmark: BenchmarkFixture, http: httpx.Client, gateway_litellm: str
) -> None:
    benchmark(_chat, http, gateway_litellm, True)
