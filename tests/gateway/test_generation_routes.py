"""Every generation route keeps the chat route's perimeter: keys, limits, quota, paths, metrics.

Each test runs once for ``/v1/completions`` and once for ``/v1/responses``, over real
HTTP, against a tenant whose Aligner runs on a real loopback engine.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.support.aligned import CORRECTION, KEY, aligned_gateway
from tests.support.metrics import sample
from tests.support.sink import raw_request
from tests.support.upstream import UpstreamScript

ROUTES = {
    "completions": {"model": "gpt-test", "prompt": "Say something."},
    "responses": {"model": "gpt-test", "input": "Say something."},
}
# Each route's name for the answer's token cap.
MAX_TOKENS = {"completions": "max_tokens", "responses": "max_output_tokens"}


def _post(url: str, route: str, key: str | None = KEY, **fields: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(
        f"{url}/v1/{route}", json={**ROUTES[route], **fields}, headers=headers, timeout=30
    )


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("key", [None, "sk-not-a-known-key-000000"])
def test_a_missing_or_unknown_key_is_a_401_and_nothing_is_sent(
    upstream: UpstreamScript, upstream_url: str, route: str, key: str | None
) -> None:
    with aligned_gateway(upstream_url) as url:
        response = _post(url, route, key)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert upstream.requests == []


@pytest.mark.parametrize("route", ROUTES)
def test_the_tenants_token_and_prompt_limits_hold(
    upstream: UpstreamScript, upstream_url: str, route: str
) -> None:
    limits = {"max_tokens": 100, "max_prompt_chars": 20}
    with aligned_gateway(upstream_url, limits=limits) as url:
        tokens = _post(url, route, **{MAX_TOKENS[route]: 1000})
        long = _post(url, route, **{"prompt" if route == "completions" else "input": "x" * 50})
    assert tokens.status_code == long.status_code == 400
    assert tokens.json()["error"]["code"] == long.json()["error"]["code"] == "limit_exceeded"
    assert upstream.requests == []


@pytest.mark.parametrize("route", ROUTES)
def test_requests_per_minute_hold(upstream_url: str, route: str) -> None:
    with aligned_gateway(upstream_url, limits={"requests_per_minute": 2}) as url:
        statuses = [_post(url, route).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("route", ROUTES)
def test_a_stream_is_charged_to_tokens_per_minute(upstream_url: str, route: str) -> None:
    with aligned_gateway(upstream_url, limits={"tokens_per_minute": 5}) as url:
        first = _post(url, route, stream=True)
        second = _post(url, route, stream=True)
    assert first.status_code == 200 and CORRECTION.split(" ")[0] in first.text
    assert second.status_code == 429


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("spelling", ["/v1//{route}", "/v1/{route}/", "/v1/./{route}"])
def test_a_non_canonical_spelling_is_refused_and_not_forwarded(
    upstream: UpstreamScript, upstream_url: str, route: str, spelling: str
) -> None:
    with aligned_gateway(upstream_url) as url:
        response = raw_request(
            url,
            "POST",
            spelling.format(route=route).encode(),
            body=json.dumps(ROUTES[route]).encode(),
            headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
        )
    assert response.status == 400
    assert upstream.requests == []


@pytest.mark.parametrize("route", ROUTES)
def test_a_request_is_counted_and_logged_under_its_route(upstream_url: str, route: str) -> None:
    with aligned_gateway(upstream_url) as url, capture_logs() as logs:
        assert _post(url, route).status_code == 200
        text = httpx.get(f"{url}/metrics").text
    counted = sample(text, "aligngate_requests_total", route=route, status="200", tenant="acme")
    assert counted == 1
    [event] = [e for e in logs if e["event"] == "chat_request"]
    assert event["route"] == route
    assert [s["outcome"] for s in event["stages"]] == ["corrected"]
