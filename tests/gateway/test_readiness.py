"""Readiness means "this pod can serve"; a shared remote engine's outage is reported, not gated."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import redis

from gateway.engines.base import GenerationRequest, GenerationResult
from gateway.engines.remote import RemoteEngine
from gateway.tenants.redis_store import RedisStore
from tests.support.gateway import running_gateway, upstream_route
from tests.support.metrics import sample
from tests.support.redis_server import running_redis
from tests.support.servers import free_port


def _config(upstream_url: str, engine: dict[str, Any]) -> dict[str, Any]:
    return {
        "engines": {"small": engine},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {"aligner": {"kind": "aligner", "engine": "small"}},
    }


def _remote(api_base: str) -> dict[str, Any]:
    return {"kind": "remote", "api_base": api_base, "model": "m"}


def _engine_up(url: str, engine: str) -> float | None:
    """The engine's gauge once the background probe has set it (it runs at start-up)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        value = sample(httpx.get(f"{url}/metrics").text, "aligngate_engine_up", engine=engine)
        if value is not None:
            return value
        time.sleep(0.05)
    return None


def test_a_remote_engine_outage_leaves_the_pod_ready_and_is_reported(upstream_url: str) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"
    engine = RemoteEngine(down, "m")
    with running_gateway(_config(upstream_url, _remote(down)), {"small": engine}) as url:
        ready = httpx.get(f"{url}/readyz")
        details = httpx.get(f"{url}/healthz/details")
        gauge = _engine_up(url, "small")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready" and ready.json()["store"] is True
    assert details.status_code == 200
    assert details.json()["status"] == "degraded"
    assert details.json()["engines"] == {"small": {"kind": "remote", "ready": False}}
    assert gauge == 0


def test_a_reachable_remote_engine_is_reported_up(upstream_url: str) -> None:
    engine = RemoteEngine(upstream_url, "m")  # the loopback upstream answers GET /v1/models
    with running_gateway(_config(upstream_url, _remote(upstream_url)), {"small": engine}) as url:
        details = httpx.get(f"{url}/healthz/details").json()
        gauge = _engine_up(url, "small")
    assert details["status"] == "ok" and details["ready"] is True
    assert details["engines"]["small"] == {"kind": "remote", "ready": True}
    assert gauge == 1


class StillLoading:
    """An in-process engine whose model has not loaded yet."""

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Not loaded: nothing to generate with."""
        raise AssertionError("a stage ran on an engine that is still loading")

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Not loaded."""
        raise AssertionError("a stage ran on an engine that is still loading")
        yield ""

    async def ready(self) -> bool:
        """Never, in this test."""
        return False

    async def aclose(self) -> None:
        """Nothing to release."""


def test_an_in_process_engine_still_loading_keeps_the_pod_unready(upstream_url: str) -> None:
    config = _config(upstream_url, {"kind": "transformers"})
    with running_gateway(config, {"small": StillLoading()}) as url:
        ready = httpx.get(f"{url}/readyz")
        details = httpx.get(f"{url}/healthz/details")
    assert ready.status_code == 503
    assert ready.json()["engines"] == {"small": False}
    assert details.status_code == 200
    assert details.json()["status"] == "not ready"
    assert details.json()["engines"]["small"] == {"kind": "in-process", "ready": False}


def test_an_unreachable_store_makes_the_pod_unready(tmp_path: Path, upstream_url: str) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_redis(tmp_path) as redis_url:
        store = RedisStore(redis_url, prefix=f"test-{tmp_path.name}")
        with running_gateway(config, store=store) as url:
            before = httpx.get(f"{url}/readyz")
            redis.Redis.from_url(redis_url).shutdown(nosave=True)
            started = time.monotonic()
            after = httpx.get(f"{url}/readyz", timeout=30)
            took = time.monotonic() - started
    assert before.status_code == 200
    assert after.status_code == 503 and after.json()["store"] is False
    assert took < 5
