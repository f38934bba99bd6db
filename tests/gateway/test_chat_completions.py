"""Chat completions through the gateway, with the official client over real HTTP."""

from __future__ import annotations

import httpx

from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.upstream import UpstreamScript


def test_a_non_streamed_chat_comes_back_as_the_upstream_answered(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        completion = client(url).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "Hello?"}]
        )
    assert completion.choices[0].message.content == upstream.reply
    assert completion.usage is not None and completion.usage.total_tokens == 12
    assert upstream.requests[0]["model"] == "upstream-model"
    assert upstream.requests[0]["messages"] == [{"role": "user", "content": "Hello?"}]


def test_a_streamed_chat_arrives_in_chunks_and_ends_with_usage(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        stream = client(url).chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "Hello?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == upstream.reply
    assert len([c for c in chunks if c.choices]) > 3
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_the_stream_ends_with_done_on_the_wire(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={
                "model": "gpt-test",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": True,
            },
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.rstrip().endswith("data: [DONE]")


def test_unknown_request_fields_reach_the_upstream(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        client(url).chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "Hi", "name": "alice"}],
            extra_body={"top_k": 7, "guided_choice": ["a", "b"], "seed": 3},
        )
    sent = upstream.requests[0]
    assert sent["top_k"] == 7
    assert sent["guided_choice"] == ["a", "b"]
    assert sent["seed"] == 3
    assert sent["messages"][0]["name"] == "alice"


def test_unknown_response_fields_reach_the_client(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        completion = client(url).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
        )
    assert completion.system_fingerprint == "fp_upstream"


def test_responses_carry_a_request_id_and_the_stage_trace(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
        )
    assert raw.headers["x-request-id"].startswith("req-")
    # No stage configured: no stage header at all (an empty one reads as "stages ran, none
    # reported").
    assert "x-aligngate-stages" not in raw.headers


def test_a_client_request_id_is_echoed_when_it_is_safe(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        body = {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]}
        safe = httpx.post(
            f"{url}/v1/chat/completions", json=body, headers={"x-request-id": "abc-1"}
        )
        unsafe = httpx.post(
            f"{url}/v1/chat/completions", json=body, headers={"x-request-id": b"a b<script>\xe9"}
        )
    assert safe.headers["x-request-id"] == "abc-1"
    assert unsafe.headers["x-request-id"].startswith("req-")


def test_the_models_list_names_the_configured_models(upstream_url: str) -> None:
    config = {
        "models": [upstream_route("gpt-a", upstream_url), upstream_route("gpt-b", upstream_url)]
    }
    with running_gateway(config) as url:
        models = client(url).models.list()
    assert [m.id for m in models.data] == ["gpt-a", "gpt-b"]


def test_quick_mode_maps_any_model_to_the_upstream_and_lists_its_models(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    config = {
        "default_backend": {
            "kind": "openai",
            "model": "*",
            "api_base": upstream_url,
            "forward_client_key": True,
        }
    }
    with running_gateway(config) as url:
        completion = client(url, api_key="sk-client").chat.completions.create(
            model="whatever-model", messages=[{"role": "user", "content": "Hi"}]
        )
        models = client(url).models.list()
    assert completion.choices[0].message.content == upstream.reply
    assert upstream.requests[0]["model"] == "whatever-model"
    assert upstream.request_headers[0]["authorization"] == "Bearer sk-client"
    assert [m.id for m in models.data] == ["upstream-model"]


def test_health_and_readiness_answer(upstream_url: str) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        health = httpx.get(f"{url}/healthz")
        ready = httpx.get(f"{url}/readyz")
    assert health.status_code == 200
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_readiness_fails_when_nothing_is_configured() -> None:
    with running_gateway({}) as url:
        ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 503
