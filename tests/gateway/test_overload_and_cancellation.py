"""Limits that protect the gateway: concurrency, per-tenant rates, and cancelled clients."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from structlog.testing import capture_logs

from gateway.tenants.ratelimit import RedisRateLimiter
from tests.support.gateway import (
    ADMIN_KEY,
    client,
    create_tenant,
    running_gateway,
    upstream_route,
)
from tests.support.metrics import sample
from tests.support.redis_server import running_redis
from tests.support.scripted_engine import ScriptedEngine
from tests.support.upstream import UpstreamScript

BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]}


def _post(url: str, key: str = "sk-x", timeout: float = 30) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json=BODY,
        timeout=timeout,
        headers={"authorization": f"Bearer {key}"},
    )


def test_over_the_concurrency_limit_requests_get_429_with_retry_after_a_log_and_a_metric(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.delay_s = 1.0
    with running_gateway(
        {"models": [upstream_route("gpt-test", upstream_url)]}, max_concurrency=2
    ) as url:
        with capture_logs() as logs, ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(lambda _: _post(url), range(6)))
        health = httpx.get(f"{url}/healthz")
        metrics = httpx.get(f"{url}/metrics").text
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1
    rejected = [r for r in responses if r.status_code == 429]
    assert rejected[0].headers["retry-after"] == "1"
    assert rejected[0].json()["error"]["code"] == "overloaded"
    assert health.status_code == 200
    events = [e for e in logs if e["event"] == "request_rejected"]
    assert sorted(e["request_id"] for e in events) == sorted(
        r.headers["x-request-id"] for r in rejected
    )
    assert {(e["reason"], e["status"], e["path"]) for e in events} == {
        ("overloaded", 429, "/v1/chat/completions")
    }
    counted = sample(metrics, "aligngate_rejected_requests_total", reason="overloaded")
    assert counted == len(rejected)


def test_clients_trickling_their_bodies_hold_no_slot_and_get_408(upstream_url: str) -> None:
    # Each slow client declares 1,000 bytes and sends 12. They used to count towards the
    # concurrency limit from their headers on, for as long as they stayed: 20 of them
    # against a limit of 4 meant 429 for every legitimate request.
    with running_gateway(
        {"models": [upstream_route("gpt-test", upstream_url)]},
        max_concurrency=4,
        body_read_timeout_s=2.0,
    ) as url:
        port = int(url.rsplit(":", 1)[1])
        started = time.monotonic()
        slow = [_start_slow_body(port) for _ in range(20)]
        answer = client(url).chat.completions.create(**BODY)
        answered_after = time.monotonic() - started
        replies = [_read_reply(sock) for sock in slow]
        timed_out_after = time.monotonic() - started
        metrics = httpx.get(f"{url}/metrics").text
    assert answer.choices[0].message.content
    assert answered_after < 2.0  # served while all 20 were still trickling
    assert all(reply.startswith(b"HTTP/1.1 408 ") for reply in replies), replies[0][:200]
    assert all(b'"code":"body_timeout"' in reply for reply in replies)
    assert 2.0 <= timed_out_after < 10
    assert sample(metrics, "aligngate_rejected_requests_total", reason="body_timeout") == 20
    assert sample(metrics, "aligngate_rejected_requests_total", reason="overloaded") is None


def _start_slow_body(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"content-type: application/json\r\ncontent-length: 1000\r\n\r\n"
        b'{"model": "g'
    )
    return sock


def _read_reply(sock: socket.socket) -> bytes:
    """Everything the gateway sends until it closes the connection."""
    with sock:
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_clients_under_the_concurrency_limit_never_get_429(upstream_url: str) -> None:
    # Each client waits for its answer before asking again, so at most 3 requests are
    # ever in flight against a limit of 4. A slot used to be freed only once the ASGI
    # call had unwound, several event-loop turns after the answer was sent, by which
    # time the client's next request had arrived: 5-30% of these got 429.
    with running_gateway(
        {"models": [upstream_route("gpt-test", upstream_url)]}, max_concurrency=4
    ) as url:

        def one_client(index: int) -> list[int]:
            statuses = []
            sdk = client(url)
            for turn in range(80):
                try:
                    if (index + turn) % 2:
                        list(sdk.chat.completions.create(stream=True, **BODY))
                    else:
                        sdk.chat.completions.create(**BODY)
                    statuses.append(200)
                except openai.APIStatusError as exc:
                    statuses.append(exc.status_code)
            return statuses

        with ThreadPoolExecutor(3) as pool:
            statuses = [
                s for client_statuses in pool.map(one_client, range(3)) for s in client_statuses
            ]
    assert statuses.count(429) == 0, f"{statuses.count(429)} of {len(statuses)} got 429"
    assert statuses == [200] * 240


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


def test_cors_exposes_the_gateway_s_own_response_headers(upstream_url: str) -> None:
    # A browser client reads the arm and the stage trace only if CORS exposes them.
    origin = "https://app.example"
    routes = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(routes, cors_origins=[origin]) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]},
            headers={"origin": origin},
        )
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "x-aligngate-stages", "x-aligngate-arm"} <= exposed


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/chat/completions", b"x" * 4096, 413),  # refused by the body reader
        ("/v1//chat/completions", b"{}", 400),  # refused by the path check
    ],
)
def test_answers_refused_before_routing_carry_cors_headers(
    upstream_url: str, path: str, body: bytes, status: int
) -> None:
    # A browser app reads an error's body and x-request-id only under CORS; the layers
    # that refuse on their own (size, path, overload, concurrency) answer outside routing.
    origin = "https://app.example"
    routes = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(routes, cors_origins=[origin], max_body_bytes=1024) as url:
        response = httpx.post(
            f"{url}{path}",
            content=body,
            headers={"origin": origin, "content-type": "application/json"},
        )
    assert response.status_code == status, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert "x-request-id" in response.headers["access-control-expose-headers"]
    assert response.json()["error"]["message"]
