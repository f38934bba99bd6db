"""Past capacity the gateway sheds new requests with a fast 503 and Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.support.load_driver import BODY, LoadResult, drive
from tests.support.processes import aligngate, python_module, running_process
from tests.support.servers import free_port

CLIENTS = 200
FLOOD_S = 8.0


@pytest.fixture
def fast_upstream() -> Iterator[str]:
    """An upstream in its own process, cheap enough that the gateway is the bottleneck."""
    port = free_port()
    command = python_module("tests.support.fast_upstream", str(port))
    with running_process(command, f"http://127.0.0.1:{port}/v1/models"):
        yield f"http://127.0.0.1:{port}/v1"


async def _flood_and_probe(base: str) -> tuple[LoadResult, httpx.Response | None, int]:
    """CLIENTS raw keep-alive clients for FLOOD_S; meanwhile one SDK-like client probes.

    The flood comes from a bare protocol (tests.support.load_driver), a few tens of
    microseconds a request, so it outruns the gateway whatever share of the CPU each
    process gets; an HTTP client library in this process could not (it failed to on CI).
    The probe keeps the first shed answer whole, to check its body, and /healthz.
    """
    flood = asyncio.ensure_future(drive(f"{base}/v1", CLIENTS, FLOOD_S, warmup_s=0))
    shed: httpx.Response | None = None
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while not flood.done() and shed is None:
            response = await http.post("/v1/chat/completions", json=BODY)
            if response.status_code == 503:
                shed = response
            await asyncio.sleep(0.05)
        health = await http.get("/healthz")
    return await flood, shed, health.status_code


def test_an_overloaded_gateway_answers_503_with_retry_after_and_stays_healthy(
    fast_upstream: str,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # A limit this low is crossed by any sustained load, so the test does not depend on
    # the machine; one burst is not enough (see test_admission_lag.py).
    env = {"ALIGNGATE_STORE": "memory", "ALIGNGATE_MAX_LOOP_LAG_MS": "2"}
    command = aligngate(
        "serve", "--upstream", fast_upstream, "--port", str(port), "--log-level", "error"
    )
    with running_process(command, f"{base}/healthz", env=env):
        result, shed, health = asyncio.run(_flood_and_probe(base))
        # Only two outcomes: served whole, or refused at once with Retry-After.
        assert set(result.errors) == {"http 503"}, result.summary()
        assert result.retry_after == result.errors["http 503"], result.summary()
        assert result.latencies, result.summary()
        assert shed is not None, result.summary()
        assert int(shed.headers["retry-after"]) >= 1
        assert shed.json()["error"]["code"] == "overloaded"
        assert shed.json()["error"]["type"] == "api_error"
        assert health == 200
        # Once the flood is over the loop catches up and requests are admitted again.
        for _ in range(50):
            again = httpx.post(f"{base}/v1/chat/completions", json=BODY, timeout=30)
            if again.status_code == 200:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert again.status_code == 200
        assert again.json()["choices"][0]["message"]["content"]
