"""Routes without stages reach the model's backend, but only the tenant's allowed ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from starlette.middleware.gzip import GZipMiddleware

from gateway.config import GatewayConfig, upstream_config
from gateway.engines.base import EngineError
from gateway.tenants.keys import hash_key
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.processes import aligngate, running_process
from tests.support.scripted_engine import ScriptedEngine
from tests.support.servers import free_port, serve_in_thread
from tests.support.sink import Recording, Seen
from tests.support.upstream import UpstreamScript, create_upstream

KEY = "sk-tenant-passthrough-0123"
SECRET = "sk-upstream-query-secret-42"


@pytest.fixture
def seen() -> Seen:
    """Every request the recorded upstream received."""
    return Seen()


@pytest.fixture
def recorded_url(upstream: UpstreamScript, seen: Seen) -> Iterator[str]:
    """Base URL (with ``/v1``) of the test upstream, recording every path it is sent."""
    with serve_in_thread(Recording(create_upstream(upstream), seen)) as url:
        yield f"{url}/v1"


def _tenant(name: str = "acme", key: str = KEY, **policy: Any) -> dict[str, Any]:
    return {"name": name, "api_key_sha256": [hash_key(key)], "policy": policy}


def _staged(upstream_url: str, *tenants: dict[str, Any]) -> dict[str, Any]:
    """A model whose pipeline has a fail-closed Aligner (its engine is down)."""
    return {
        "engines": {"small": {"kind": "remote", "api_base": "http://127.0.0.1:9/v1", "model": "m"}},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {"aligner": {"kind": "aligner", "engine": "small", "on_failure": "closed"}},
        "pipeline": ["aligner"],
        "tenants": list(tenants),
    }


def _down() -> dict[str, ScriptedEngine]:
    return {"small": ScriptedEngine([EngineError("down")], repeat=True)}


def _plain(upstream_url: str, *tenants: dict[str, Any], **config: Any) -> dict[str, Any]:
    """No stages; a catch-all backend, so requests without a model (GET) have one too."""
    return {
        "models": [upstream_route("gpt-test", upstream_url)],
        "default_backend": {"kind": "openai", "model": "*", "api_base": upstream_url},
        "tenants": list(tenants),
        **config,
    }


def test_embeddings_are_proxied_to_the_models_backend(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway({"models": [upstream_route("embedder", upstream_url)]}) as url:
        result = client(url).embeddings.create(model="embedder", input="hello")
    assert result.data[0].embedding == [0.25, -0.5, 1.0]
    assert upstream.requests[0]["model"] == "upstream-model"
    assert upstream.requests[0]["input"] == "hello"


def test_streamed_legacy_completions_are_served_for_a_tenant_without_stages(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    config = _plain(upstream_url, passthrough=["models"])
    with running_gateway(config) as url:
        stream = client(url).completions.create(model="gpt-test", prompt="Say", stream=True)
        text = "".join(chunk.choices[0].text for chunk in stream)
    assert text.strip() == upstream.reply


def test_a_proxied_route_for_an_unknown_model_is_a_404(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        response = httpx.post(f"{url}/v1/embeddings", json={"model": "nope", "input": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_upstream_errors_on_proxied_routes_keep_their_status(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.status = 400
    with running_gateway({"models": [upstream_route("embedder", upstream_url)]}) as url:
        response = httpx.post(f"{url}/v1/embeddings", json={"model": "embedder", "input": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "scripted failure"


# --- item 3: generation routes and provider-side objects ---


@pytest.mark.parametrize("policy", [{}, {"passthrough": ["completions", "responses"]}])
def test_generation_routes_run_the_stages_and_are_never_forwarded_unchanged(
    upstream: UpstreamScript, recorded_url: str, seen: Seen, policy: dict[str, Any]
) -> None:
    upstream.reply = "UNALIGNED original answer"
    with running_gateway(_staged(recorded_url, _tenant(**policy)), _down()) as url:
        sdk = client(url, api_key=KEY)
        with pytest.raises(openai.InternalServerError) as legacy:
            sdk.completions.create(model="gpt-test", prompt="Say")
        with pytest.raises(openai.InternalServerError) as responses:
            sdk.responses.create(model="gpt-test", input="Say")
    # The fail-closed Aligner is down: refused after the backend's answer, not forwarded.
    assert legacy.value.code == responses.value.code == "stage_failed"
    assert "UNALIGNED" not in str(legacy.value.body) + str(responses.value.body)
    assert seen.requests == [("POST", "/v1/chat/completions")] * 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "files"),
        ("POST", "files"),
        ("DELETE", "files/file-abc"),
        ("GET", "files/file-abc/content"),
        ("POST", "batches"),
        ("GET", "assistants"),
        ("POST", "threads/thread_1/runs"),
        ("GET", "vector_stores"),
        ("POST", "uploads"),
        ("GET", "fine_tuning/jobs"),
        ("DELETE", "models/ft:gpt-4o:acme:x"),
        ("GET", "chat/completions"),
        ("GET", "chat/completions/chatcmpl-1"),
        ("DELETE", "chat/completions/chatcmpl-1"),
        ("GET", "responses/resp_1"),
        ("POST", "images/generations"),
    ],
)
def test_provider_side_objects_are_refused_by_default(
    recorded_url: str, seen: Seen, method: str, path: str
) -> None:
    with running_gateway(_plain(recorded_url, _tenant())) as url:
        response = httpx.request(
            method,
            f"{url}/v1/{path}",
            headers={"authorization": f"Bearer {KEY}"},
            json={"model": "gpt-test"} if method != "GET" else None,
        )
    assert response.status_code == 403
    assert response.json()["error"]["code"] in {"route_not_allowed", "route_not_aligned"}
    assert seen.requests == []


def test_a_tenant_configured_for_files_reaches_them_and_another_does_not(
    recorded_url: str, seen: Seen
) -> None:
    files = _tenant("files-ok", "sk-files-ok-000000", passthrough=["files"])
    other = _tenant()
    with running_gateway(_plain(recorded_url, files, other)) as url:
        allowed = httpx.get(
            f"{url}/v1/files?limit=2", headers={"authorization": "Bearer sk-files-ok-000000"}
        )
        refused = httpx.get(f"{url}/v1/files", headers={"authorization": f"Bearer {KEY}"})
    assert allowed.status_code == 404  # the test upstream has no files route; it was reached
    assert refused.status_code == 403
    assert seen.requests == [("GET", "/v1/files?limit=2")]


def test_the_configs_passthrough_list_is_the_default_for_tenants_without_one(
    recorded_url: str, seen: Seen
) -> None:
    config = _plain(recorded_url, _tenant(), passthrough=["files"])
    with running_gateway(config) as url:
        files = httpx.get(f"{url}/v1/files", headers={"authorization": f"Bearer {KEY}"})
        embeddings = httpx.post(
            f"{url}/v1/embeddings",
            headers={"authorization": f"Bearer {KEY}"},
            json={"model": "gpt-test", "input": "x"},
        )
    assert files.status_code == 404
    assert embeddings.status_code == 403
    assert [path for _, path in seen.requests] == ["/v1/files"]


def test_an_unknown_route_is_a_404_and_is_not_forwarded(recorded_url: str, seen: Seen) -> None:
    with running_gateway(_plain(recorded_url, _tenant(passthrough=["files"]))) as url:
        responses = [
            httpx.post(
                f"{url}/v1/{path}",
                headers={"authorization": f"Bearer {KEY}"},
                json={"model": "gpt-test", "input": "x"},
            )
            for path in ("anything", "embeddings/x", "Embeddings", "completions/x")
        ]
    assert [r.status_code for r in responses] == [404] * 4
    assert {r.json()["error"]["code"] for r in responses} == {"unknown_route"}
    assert seen.requests == []


def test_a_stageless_tenant_gets_legacy_completions_from_the_chat_backend(
    upstream: UpstreamScript, recorded_url: str, seen: Seen
) -> None:
    plain = _tenant("plain", "sk-plain-000000000", pipeline=[])
    with running_gateway(_staged(recorded_url, plain), _down()) as url:
        result = client(url, api_key="sk-plain-000000000").completions.create(
            model="gpt-test", prompt="Say"
        )
    assert result.choices[0].text == upstream.reply
    assert seen.requests == [("POST", "/v1/chat/completions")]


# --- item 17: limits, quota and keys ---


def test_passthrough_counts_against_the_tenants_requests_per_minute(upstream_url: str) -> None:
    tenant = {**_tenant(), "limits": {"requests_per_minute": 5}}
    with running_gateway(_plain(upstream_url, tenant)) as url:
        statuses = [
            httpx.post(
                f"{url}/v1/embeddings",
                headers={"authorization": f"Bearer {KEY}"},
                json={"model": "gpt-test", "input": "x"},
            ).status_code
            for _ in range(8)
        ]
    assert statuses == [200] * 5 + [429] * 3


def test_passthrough_usage_is_charged_to_the_tenants_tokens_per_minute(upstream_url: str) -> None:
    tenant = {**_tenant(), "limits": {"tokens_per_minute": 3}}  # each embedding costs 2
    with running_gateway(_plain(upstream_url, tenant)) as url:
        statuses = [
            httpx.post(
                f"{url}/v1/embeddings",
                headers={"authorization": f"Bearer {KEY}"},
                json={"model": "gpt-test", "input": "x"},
            ).status_code
            for _ in range(3)
        ]
    assert statuses == [200, 200, 429]


def test_passthrough_bodies_are_held_to_the_tenants_token_and_prompt_limits(
    recorded_url: str, seen: Seen
) -> None:
    tenant = {
        **_tenant(passthrough=["completions", "embeddings"]),
        "limits": {"max_tokens": 100, "max_prompt_chars": 10},
    }
    with running_gateway(_plain(recorded_url, tenant)) as url:
        sdk = client(url, api_key=KEY)
        with pytest.raises(openai.BadRequestError) as tokens:
            sdk.completions.create(model="gpt-test", prompt="Say", max_tokens=1000)
        with pytest.raises(openai.BadRequestError) as prompt:
            sdk.embeddings.create(model="gpt-test", input=["a" * 8, "b" * 8])
    assert tokens.value.code == prompt.value.code == "limit_exceeded"
    assert seen.requests == []


def test_quick_mode_with_tenants_never_sends_a_tenants_gateway_key_upstream(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    quick = upstream_config(upstream_url, None).model_dump()
    config = GatewayConfig.model_validate({**quick, "tenants": [_tenant()]})
    with running_gateway(config) as url:
        sdk = client(url, api_key=KEY)
        sdk.embeddings.create(model="m", input="x")
        sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}])
    assert len(upstream.request_headers) == 2
    for headers in upstream.request_headers:
        assert KEY not in json.dumps(headers)


def test_open_quick_mode_still_forwards_the_callers_own_key(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway(upstream_config(upstream_url, None)) as url:
        client(url, api_key="sk-callers-own").embeddings.create(model="m", input="x")
    assert upstream.request_headers[0]["authorization"] == "Bearer sk-callers-own"


def test_an_upstream_url_with_a_secret_query_is_not_logged(upstream_url: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = aligngate("serve", "--upstream", upstream_url, "--port", str(port))
    with running_process(command, f"{base}/healthz", env={"ALIGNGATE_STORE": "memory"}) as proc:
        response = httpx.post(
            f"{base}/v1/embeddings?api_key={SECRET}", json={"model": "m", "input": "x"}
        )
        log = proc.log_path.read_text()
    assert response.status_code == 200
    assert "chat_request" in log  # the request itself is logged, without its URL
    assert SECRET not in log


# --- item 18: compressed answers ---


def test_a_gzipped_upstream_answer_reaches_the_client_intact(upstream: UpstreamScript) -> None:
    app = GZipMiddleware(create_upstream(upstream), minimum_size=1)
    with serve_in_thread(app) as upstream_base:
        config = {
            "models": [upstream_route("embedder", f"{upstream_base}/v1")],
            "passthrough": ["embeddings", "completions"],
        }
        with running_gateway(config) as url:
            result = client(url).embeddings.create(model="embedder", input="hello")
            stream = client(url).completions.create(model="embedder", prompt="Say", stream=True)
            text = "".join(chunk.choices[0].text for chunk in stream)
            raw = httpx.post(
                f"{url}/v1/embeddings",
                json={"model": "embedder", "input": "x"},
                headers={"accept-encoding": "identity"},
            )
    assert result.data[0].embedding == [0.25, -0.5, 1.0]
    assert text.strip() == upstream.reply
    assert "content-encoding" not in raw.headers
    assert json.loads(raw.content)["data"][0]["embedding"] == [0.25, -0.5, 1.0]
