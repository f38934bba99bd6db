"""Routes without stages (embeddings, completions...) reach the model's backend unchanged."""

from __future__ import annotations

import httpx

from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.upstream import UpstreamScript


def test_embeddings_are_proxied_to_the_models_backend(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway({"models": [upstream_route("embedder", upstream_url)]}) as url:
        result = client(url).embeddings.create(model="embedder", input="hello")
    assert result.data[0].embedding == [0.25, -0.5, 1.0]
    assert upstream.requests[0]["model"] == "upstream-model"
    assert upstream.requests[0]["input"] == "hello"


def test_streamed_legacy_completions_are_proxied_as_a_stream(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
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
