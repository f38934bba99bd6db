"""Every failure reaches the client as OpenAI's error JSON with the right status."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import openai
import pytest

from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.upstream import UpstreamScript

HELLO = [{"role": "user", "content": "Hi"}]


def _assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text
    return error


def test_a_malformed_body_is_a_400(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    _assert_openai_error(response, 400)


def test_missing_messages_are_a_400_naming_the_field(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        with pytest.raises(openai.BadRequestError) as caught:
            client(url).chat.completions.create(model="gpt-test", messages=[])
    assert caught.value.status_code == 400
    assert "messages" in caught.value.message


def test_an_out_of_range_parameter_is_a_400(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "gpt-test", "messages": HELLO, "temperature": 9},
        )
    assert _assert_openai_error(response, 400)["param"] == "temperature"


def test_an_unknown_model_is_a_404(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        with pytest.raises(openai.NotFoundError) as caught:
            client(url).chat.completions.create(model="no-such-model", messages=HELLO)
    assert caught.value.code == "model_not_found"


def test_an_oversized_body_is_a_413(upstream_url: str) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, max_body_bytes=2048) as url:
        big = [{"role": "user", "content": "x" * 5000}]
        response = httpx.post(
            f"{url}/v1/chat/completions", json={"model": "gpt-test", "messages": big}
        )

        def chunks() -> Any:
            yield b'{"model": "gpt-test", "messages": [{"role": "user", "content": "'
            yield b"y" * 5000
            yield b'"}]}'

        chunked = httpx.post(
            f"{url}/v1/chat/completions",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
    _assert_openai_error(response, 413)
    _assert_openai_error(chunked, 413)


def test_keys_are_required_once_tenants_exist(upstream_url: str) -> None:
    digest = hashlib.sha256(b"sk-tenant-a").hexdigest()
    config = {
        "models": [upstream_route("gpt-test", upstream_url)],
        "tenants": [{"name": "a", "api_key_sha256": [digest]}],
    }
    with running_gateway(config) as url:
        with pytest.raises(openai.AuthenticationError):
            client(url, api_key="sk-wrong").chat.completions.create(
                model="gpt-test", messages=HELLO
            )
        missing = httpx.post(
            f"{url}/v1/chat/completions", json={"model": "gpt-test", "messages": HELLO}
        )
        ok = client(url, api_key="sk-tenant-a").chat.completions.create(
            model="gpt-test", messages=HELLO
        )
    assert _assert_openai_error(missing, 401)["code"] == "missing_api_key"
    assert ok.choices[0].message.content


@pytest.mark.parametrize(
    ("upstream_status", "client_status"), [(500, 502), (503, 502), (400, 400), (429, 429)]
)
def test_upstream_failures_map_to_gateway_statuses(
    upstream: UpstreamScript, upstream_url: str, upstream_status: int, client_status: int
) -> None:
    upstream.status = upstream_status
    upstream.headers = {"retry-after": "30"} if upstream_status == 429 else {}
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions", json={"model": "gpt-test", "messages": HELLO}
        )
    _assert_openai_error(response, client_status)
    if upstream_status == 429:
        assert response.headers["retry-after"] == "30"


def test_an_unreachable_upstream_is_a_502() -> None:
    route = upstream_route("gpt-test", "http://127.0.0.1:9/v1")
    with running_gateway({"models": [route]}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions", json={"model": "gpt-test", "messages": HELLO}
        )
    _assert_openai_error(response, 502)


def test_a_slow_upstream_is_a_504(upstream: UpstreamScript, upstream_url: str) -> None:
    upstream.delay_s = 2.0
    route = upstream_route("gpt-test", upstream_url, timeout_s=0.3)
    with running_gateway({"models": [route]}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions", json={"model": "gpt-test", "messages": HELLO}
        )
    _assert_openai_error(response, 504)


def test_a_streamed_request_to_a_failing_upstream_is_a_json_error(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.status = 500
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "gpt-test", "messages": HELLO, "stream": True},
        )
    _assert_openai_error(response, 502)


def test_an_unknown_route_outside_v1_is_a_404_in_openai_shape(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        response = httpx.get(f"{url}/nowhere")
    _assert_openai_error(response, 404)
