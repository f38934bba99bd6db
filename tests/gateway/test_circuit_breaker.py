"""The circuit breaker always leaves half-open: however its probe ends, the gateway recovers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.support.gateway import running_gateway, upstream_route
from tests.support.upstream import RawScript, UpstreamScript, raw_upstream

HELLO = [{"role": "user", "content": "Hi"}]
RESET_S = 0.5


def _post(url: str, timeout: float = 30, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt-test", "messages": HELLO, **body},
        timeout=timeout,
    )


@contextmanager
def _half_open_gateway(upstream: UpstreamScript, upstream_url: str) -> Iterator[str]:
    """A gateway whose breaker was opened by 500s and has just turned half-open."""
    route = upstream_route(
        "gpt-test",
        upstream_url,
        retry={"attempts": 1},
        breaker={"failures": 2, "reset_after_s": RESET_S},
    )
    with running_gateway({"models": [route]}) as url:
        upstream.status = 500
        assert [_post(url).status_code for _ in range(2)] == [502, 502]
        opened = _post(url)
        assert opened.status_code == 503 and opened.json()["error"]["code"] == "circuit_open"
        time.sleep(RESET_S + 0.1)
        yield url


def _recovered(url: str, upstream: UpstreamScript) -> httpx.Response:
    """The upstream is healthy again: the next request after the probe must reach it."""
    upstream.status, upstream.delay_s = 200, 0.0
    return _post(url)


@pytest.mark.parametrize("status", [400, 404])
def test_a_probe_the_upstream_rejects_as_a_client_error_closes_the_circuit(
    upstream: UpstreamScript, upstream_url: str, status: int
) -> None:
    with _half_open_gateway(upstream, upstream_url) as url:
        upstream.status = status
        probe = _post(url)
        after = _recovered(url, upstream)
    assert probe.status_code == status
    assert after.status_code == 200, after.text


def test_a_probe_rejecting_the_clients_own_key_closes_the_circuit(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    """Without a gateway key the client's bearer token is forwarded; a 401 is its mistake."""
    route = upstream_route(
        "gpt-test",
        upstream_url,
        forward_client_key=True,
        retry={"attempts": 1},
        breaker={"failures": 1, "reset_after_s": RESET_S},
    )
    with running_gateway({"models": [route]}) as url:
        upstream.status = 500
        assert _post(url).status_code == 502
        time.sleep(RESET_S + 0.1)
        upstream.status = 401
        probe = _post(url)
        after = _recovered(url, upstream)
    assert probe.status_code == 401
    assert after.status_code == 200, after.text


def test_a_probe_whose_client_disconnects_frees_the_half_open_slot(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with _half_open_gateway(upstream, upstream_url) as url:
        upstream.status, upstream.delay_s = 200, 5.0
        with pytest.raises(httpx.ReadTimeout):
            _post(url, timeout=0.5)
        deadline = time.monotonic() + 5
        while upstream.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.02)  # the gateway has cancelled the probe once its upstream call closed
        after = _recovered(url, upstream)
    assert upstream.disconnects == 1
    assert after.status_code == 200, after.text


def test_a_passthrough_probe_resolves_the_half_open_state(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with _half_open_gateway(upstream, upstream_url) as url:
        upstream.status = 200
        probe = httpx.post(
            f"{url}/v1/embeddings", json={"model": "gpt-test", "input": "x"}, timeout=30
        )
        after = _post(url)
    assert probe.status_code == 200, probe.text
    assert after.status_code == 200, after.text


def test_a_failing_passthrough_probe_opens_the_circuit_again_for_a_while(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with _half_open_gateway(upstream, upstream_url) as url:
        probe = httpx.post(
            f"{url}/v1/embeddings", json={"model": "gpt-test", "input": "x"}, timeout=30
        )
        reopened = _post(url)
        time.sleep(RESET_S + 0.1)
        after = _recovered(url, upstream)
    assert probe.status_code == 500  # a proxied route keeps the upstream's status
    assert reopened.json()["error"]["code"] == "circuit_open"
    assert after.status_code == 200, after.text


def test_a_probe_whose_body_breaks_off_reopens_the_circuit_and_a_later_probe_closes_it() -> None:
    script = RawScript(faults=["close", "close", "close"])
    with raw_upstream(script) as upstream_url:
        route = upstream_route(
            "gpt-test",
            upstream_url,
            retry={"attempts": 1},
            breaker={"failures": 2, "reset_after_s": RESET_S},
        )
        with running_gateway({"models": [route]}) as url:
            opening = [_post(url).status_code for _ in range(3)]
            time.sleep(RESET_S + 0.1)
            probe, reopened = _post(url), _post(url)
            time.sleep(RESET_S + 0.1)
            after = _post(url)
    assert opening == [502, 502, 503]
    assert (probe.status_code, reopened.json()["error"]["code"]) == (502, "circuit_open")
    assert after.status_code == 200, after.text
    assert len(script.requests) == 4
