"""``/metrics`` and the API docs are for operators: a key, a port of their own, off in public.

``/metrics`` names every tenant and counts its traffic; ``/docs``, ``/redoc`` and
``/openapi.json`` map every route, the admin API's included. Neither needs a tenant
key, so a deployment must be able to close them.
"""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
import pytest

from tests.support.gateway import ADMIN_KEY, create_tenant, running_gateway, upstream_route
from tests.support.processes import ROOT, python_module, running_process
from tests.support.servers import free_port

METRICS_KEY = "metrics-scrape-key-123"
DOC_PATHS = ("/docs", "/redoc", "/openapi.json")


def config(upstream_url: str) -> dict[str, Any]:
    """One model on the loopback upstream."""
    return {"models": [upstream_route("gpt-test", upstream_url)]}


def assert_openai_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert set(error) == {"message", "type", "param", "code"}


def test_with_a_metrics_key_only_its_bearer_reads_metrics(upstream_url: str) -> None:
    with running_gateway(config(upstream_url), metrics_key=METRICS_KEY, admin_key=ADMIN_KEY) as url:
        tenant_key = create_tenant(url, "acme")
        assert_openai_401(httpx.get(f"{url}/metrics"))
        for wrong in ("nope", tenant_key, ADMIN_KEY, f"{METRICS_KEY}x"):
            assert_openai_401(
                httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {wrong}"})
            )
        scraped = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {METRICS_KEY}"})
    assert scraped.status_code == 200
    assert "aligngate_requests_total" in scraped.text


def test_without_a_metrics_key_metrics_stay_open_for_a_plain_scraper(upstream_url: str) -> None:
    with running_gateway(config(upstream_url)) as url:
        assert httpx.get(f"{url}/metrics").status_code == 200


@pytest.mark.parametrize(
    ("settings", "served"),
    [
        ({}, True),  # loopback: the developer at this machine
        ({"host": "0.0.0.0", "allow_open_public": True}, False),
        ({"host": "0.0.0.0", "allow_open_public": True, "docs": True}, True),
        ({"docs": False}, False),
    ],
)
def test_the_api_docs_are_served_on_loopback_and_off_in_public_unless_enabled(
    upstream_url: str, settings: dict[str, Any], served: bool
) -> None:
    with running_gateway(config(upstream_url), **settings) as url:
        statuses = {path: httpx.get(f"{url}{path}").status_code for path in DOC_PATHS}
        chat_route_works = httpx.get(f"{url}/v1/models").status_code == 200
    assert statuses == dict.fromkeys(DOC_PATHS, 200 if served else 404)
    assert chat_route_works


def test_a_metrics_port_serves_metrics_alone_and_the_api_port_no_longer_does(
    upstream_url: str,
) -> None:
    port, metrics_port = free_port(), free_port()
    command = python_module(
        "gateway", "serve", "--upstream", upstream_url, "--port", str(port),
        "--metrics-port", str(metrics_port),
    )  # fmt: skip
    api, metrics = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
    with running_process(command, f"{api}/healthz", env={"ALIGNGATE_STORE": "memory"}):
        scraped = httpx.get(f"{metrics}/metrics")
        on_api_port = httpx.get(f"{api}/metrics")
        api_on_metrics_port = [
            httpx.get(f"{metrics}{path}").status_code
            for path in ("/v1/models", "/healthz", "/admin/tenants", "/openapi.json")
        ]
        chat = httpx.post(
            f"{api}/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "Hi"}]},
        )
        after = httpx.get(f"{metrics}/metrics").text
    assert scraped.status_code == 200 and "aligngate_" in scraped.text
    assert on_api_port.status_code == 404
    assert on_api_port.json()["error"]["type"] == "invalid_request_error"
    assert api_on_metrics_port == [404, 404, 404, 404]
    assert chat.status_code == 200
    assert 'route="chat"' in after


def test_a_metrics_port_equal_to_the_api_port_is_refused() -> None:
    port = str(free_port())
    result = subprocess.run(
        python_module("gateway", "serve", "--port", port, "--metrics-port", port),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"ALIGNGATE_STORE": "memory", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aligngate: ") and "must differ from the API port" in lines[0]
