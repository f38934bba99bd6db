"""Limits that protect the gateway: concurrency, per-tenant rates, and cancelled clients."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.engines.fake import ScriptedEngine
from gateway.tenants.ratelimit import RedisRateLimiter
from tests.support.gateway import ADMIN_KEY, create_tenant, running_gateway, upstream_route
from tests.support.redis_server import running_redis
from tests.support.upstream import UpstreamScript

BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]}


def _post(url: str, key: str = "sk-x", timeout: float = 30) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json=BODY,
        timeout=timeout,
        headers={"authorization": f"Bearer {key}"},
    )


def test_over_the_concurrency_limit_requests_get_429_with_retry_after(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.delay_s = 1.0
    with running_gateway(
        {"models": [upstream_route("gpt-test", upstream_url)]}, max_concurrency=2
    ) as url:
        with ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(lambda _: _post(url), range(6)))
        health = httpx.get(f"{url}/healthz")
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1
    rejected = next(r for r in responses if r.status_code == 429)
    assert rejected.headers["retry-after"] == "1"
    assert rejected.json()["error"]["code"] == "overloaded"
    assert health.status_code == 200


def test_a_tenants_request_rate_limit_answers_429(upstream_url: str) -> None:
    with running_gateway(
        {"models": [upstream_route("gpt-test", upstream_url)]}, admin_key=ADMIN_KEY
    ) as url:
        key = create_tenant(url, "acme", limits={"requests_per_minute": 3})
        other = create_tenant(url, "bank")
        statuses = [_post(url, key).status_code for _ in range(4)]
        limited = _post(url, key)
        unaffected = _post(url, other)
    assert statuses == [200, 200, 200, 429]
    assert int(limited.headers["retry-after"]) >= 1
    assert unaffected.status_code == 200


def test_a_tenants_token_rate_limit_counts_what_the_backend_used(upstream_url: str) -> None:
    with running_gateway(
        {"models": [upstream_route("gpt-test", upstream_url)]}, admin_key=ADMIN_KEY
    ) as url:
        key = create_tenant(url, "acme", limits={"tokens_per_minute": 20})
        first, second, third = (_post(url, key) for _ in range(3))
    assert (first.status_code, second.status_code) == (200, 200)  # 12 + 12 tokens
    assert third.status_code == 429


def test_rate_limits_hold_across_replicas_sharing_redis(upstream_url: str, tmp_path: Path) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_redis(tmp_path) as redis_url:
        from gateway.tenants.redis_store import RedisStore

        def replica() -> Any:
            return running_gateway(
                config,
                store=RedisStore(redis_url),
                limiter=RedisRateLimiter(redis_url),
                admin_key=ADMIN_KEY,
            )

        with replica() as a, replica() as b:
            key = create_tenant(a, "acme", limits={"requests_per_minute": 3})
            statuses = [
                _post(a, key).status_code,
                _post(b, key).status_code,
                _post(a, key).status_code,
                _post(b, key).status_code,
            ]
    assert statuses == [200, 200, 200, 429]


def test_a_client_that_gives_up_cancels_the_backend_call(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.delay_s = 3.0
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        with pytest.raises(httpx.ReadTimeout):
            _post(url, timeout=0.5)
        deadline = time.monotonic() + 3
        while upstream.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert upstream.disconnects == 1


def test_a_client_that_gives_up_cancels_the_stage_generation(upstream_url: str) -> None:
    engine = ScriptedEngine(["A corrected answer."], delay_s=2.0)
    config = {
        "engines": {"small": {"kind": "remote", "api_base": "http://127.0.0.1:9/v1", "model": "m"}},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {"aligner": {"kind": "aligner", "engine": "small"}},
        "pipeline": ["aligner"],
    }
    with running_gateway(config, {"small": engine}) as url:
        with pytest.raises(httpx.ReadTimeout):
            _post(url, timeout=0.5)
        time.sleep(2.5)
    assert len(engine.requests) == 1
    assert engine.completed == 0


def test_cors_is_off_by_default(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        response = httpx.options(
            f"{url}/v1/chat/completions",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
    assert "access-control-allow-origin" not in response.headers
