"""Every failure reaches the client as OpenAI's error JSON with the right status."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import openai
import pytest

from gateway.config import upstream_config
from gateway.tenants.memory_store import MemoryStore
from gateway.tenants.models import KeyRecord
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
    # The message says what does exist, as a typo's fix needs.
    assert "gpt-test" in caught.value.message


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


LONE_SURROGATE_BODY = (
    b'{"model": "gpt-test", "messages": [{"role": "user", "content": "Hi \\ud800"}]}'
)


@pytest.mark.parametrize("stream", [False, True])
def test_a_lone_surrogate_in_content_is_a_400_and_never_forwarded(
    upstream: UpstreamScript, upstream_url: str, stream: bool
) -> None:
    body = LONE_SURROGATE_BODY.replace(
        b'"messages"', b'"stream": %s, "messages"' % (b"true" if stream else b"false")
    )
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            content=body,
            headers={"content-type": "application/json"},
        )
    error = _assert_openai_error(response, 400)
    assert "surrogate" in error["message"]
    assert upstream.requests == []


def test_an_escaped_emoji_surrogate_pair_is_ordinary_text(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    body = LONE_SURROGATE_BODY.replace(b"\\ud800", b"\\ud83d\\ude00")
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            content=body,
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 200, response.text
    assert upstream.requests[0]["messages"][0]["content"] == "Hi \U0001f600"


@pytest.mark.parametrize("token", ["sk-caf\u00e9".encode(), b"sk-\xe9t\xe9"])
def test_a_bearer_token_no_api_key_could_be_is_a_401_in_quick_mode(
    upstream: UpstreamScript, upstream_url: str, token: bytes
) -> None:
    """Quick mode forwards the client's own key upstream; these cannot go in a header."""
    with running_gateway(upstream_config(upstream_url, api_key_env=None)) as url:
        headers = {"authorization": b"Bearer " + token}
        chat = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "any", "messages": HELLO},
            headers=headers,
        )
        proxied = httpx.post(
            f"{url}/v1/embeddings", json={"model": "any", "input": "x"}, headers=headers
        )
        models = httpx.get(f"{url}/v1/models", headers=headers)
    for response in (chat, proxied, models):
        assert _assert_openai_error(response, 401)["code"] == "invalid_api_key"
        assert response.headers["x-request-id"]
    assert upstream.requests == []


class _BrokenKeyStore(MemoryStore):
    """A store whose key lookup fails with a bug, not with a typed error."""

    async def find_key(self, sha256: str) -> KeyRecord | None:
        raise RuntimeError("the key index is corrupt")


def test_an_unexpected_error_is_a_500_with_its_request_id_and_no_uvicorn_traceback(
    upstream_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, store=_BrokenKeyStore()) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "gpt-test", "messages": HELLO},
            headers={"authorization": "Bearer sk-x", "x-request-id": "req-boom-1"},
            timeout=30,
        )
    error = _assert_openai_error(response, 500)
    assert error["type"] == "internal_error" and "corrupt" not in response.text
    assert response.headers["x-request-id"] == "req-boom-1"
    server_errors = [r for r in caplog.records if r.name.startswith("uvicorn")]
    assert server_errors == []
    logged = capsys.readouterr().out
    assert "unhandled_error" in logged and "req-boom-1" in logged
