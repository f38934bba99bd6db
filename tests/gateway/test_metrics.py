"""``/metrics`` exposes the gateway's series, and their label values stay bounded."""

from __future__ import annotations

import socket
from typing import Any

import httpx
from structlog.testing import capture_logs

from gateway.config import upstream_config
from gateway.model_router import MAX_LEARNED_MODEL_LABELS
from tests.gateway.tenants.test_tenant_policies import _small_model, config
from tests.support.gateway import (
    ADMIN_KEY,
    client,
    create_tenant,
    running_gateway,
    upstream_route,
)
from tests.support.metrics import sample, series
from tests.support.scripted_engine import ScriptedEngine
from tests.support.servers import free_port


def test_metrics_show_requests_latency_stages_tokens_and_backend_time(
    upstream_url: str,
) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme")
        client(url, api_key=key).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "Explain tides"}]
        )
        httpx.post(
            f"{url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "gpt-test", "messages": []},
        )
        text = httpx.get(f"{url}/metrics").text
    common = {"arm": "none", "model": "gpt-test", "tenant": "acme"}
    assert sample(text, "aligngate_requests_total", route="chat", status="200", **common) == 1
    assert sample(text, "aligngate_requests_total", route="chat", status="400", **common) is None
    assert sample(text, "aligngate_request_duration_seconds_count", route="chat", **common) == 1
    outcomes = "aligngate_stage_outcomes_total"
    assert sample(text, outcomes, stage="bpo", outcome="rewritten", **common) == 1
    assert sample(text, outcomes, stage="aligner", outcome="corrected", **common) == 1
    assert sample(text, "aligngate_stage_duration_seconds_count", stage="bpo", **common) == 1
    tokens = sample(text, "aligngate_stage_tokens_total", stage="aligner", direction="out")
    assert tokens is not None and tokens > 0
    assert sample(text, "aligngate_backend_duration_seconds_count", model="gpt-test") == 1


def test_a_flood_of_unknown_model_names_adds_no_series(upstream_url: str) -> None:
    with running_gateway(config(upstream_url), {"small": ScriptedEngine([])}) as url:

        def unknown(i: int) -> None:
            body = {"model": f"no-such-model-{i}", "messages": [{"role": "user", "content": "x"}]}
            assert httpx.post(f"{url}/v1/chat/completions", json=body).status_code == 404

        unknown(0)
        httpx.get(f"{url}/metrics")  # the scrape's own series exist from here on
        before = httpx.get(f"{url}/metrics").text
        for i in range(1, 200):
            unknown(i)
        after = httpx.get(f"{url}/metrics").text
    assert series(after) == series(before)
    assert sample(after, "aligngate_requests_total", model="unknown", status="404") == 200


def _slow_body(url: str) -> int:
    """A request whose declared body never arrives: the gateway answers 408."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
            b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{"
        )
        head = sock.recv(1024).decode("latin-1")
    return int(head.split(" ", 2)[1])


def test_every_request_is_counted_by_route_and_status_and_logged(upstream_url: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    flaky = {
        **upstream_route("flaky", dead, retry={"attempts": 1}, breaker={"failures": 1}),
        "fallbacks": ["gpt-test"],
    }
    chat_body = {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]}
    with running_gateway(
        {"models": [upstream_route("gpt-test", upstream_url), flaky]},
        admin_key=ADMIN_KEY,
        max_body_bytes=4096,
        body_read_timeout_s=0.3,
    ) as url:
        acme = create_tenant(url, "acme", limits={"requests_per_minute": 4})
        beta = create_tenant(url, "beta", limits={"requests_per_minute": 10})
        chat = f"{url}/v1/chat/completions"

        def post(key: str | None, path: str = chat, **kwargs: Any) -> int:
            headers = {"authorization": f"Bearer {key}"} if key else {}
            headers.update(kwargs.pop("headers", {}))
            return httpx.post(path, headers=headers, timeout=30, **kwargs).status_code

        with capture_logs() as logs:
            statuses = [
                post(acme, json=chat_body),
                post(acme, json={**chat_body, "stream": True}),
                post(acme, json={**chat_body, "model": "flaky"}),
                post(acme, f"{url}/v1/embeddings", json={"model": "gpt-test", "input": "x"}),
                post(acme, json=chat_body),  # over 4 a minute
                post(acme, json={"model": "gpt-test"}),  # no messages
                post(None, json=chat_body),
                post(acme, content=b"x" * 5000, headers={"content-type": "application/json"}),
                _slow_body(url),
                post(beta, json=chat_body),
            ]
        text = httpx.get(f"{url}/metrics").text
    assert statuses == [200, 200, 200, 200, 429, 400, 401, 413, 408, 200]
    http = "aligngate_http_requests_total"
    for status, count in (("200", 4), ("429", 1), ("400", 1), ("401", 1), ("413", 1), ("408", 1)):
        assert sample(text, http, route="chat", method="POST", status=status) == count, status
    assert sample(text, http, route="embeddings", method="POST", status="200") == 1
    assert sample(text, http, route="admin", method="POST", status="201") == 4
    logged = {(e["route"], e["status"]) for e in logs if e["event"] == "http_request"}
    wanted = {("chat", status) for status in (200, 429, 400, 401, 413, 408)}
    assert logged >= wanted | {("embeddings", 200)}
    assert all(e["request_id"].startswith("req-") for e in logs if e["event"] == "http_request")

    # Tokens per model and tenant: two chats (5+5 in, 7+5 out) and an embedding (2 in).
    tokens = {"model": "gpt-test", "tenant": "acme"}
    assert sample(text, "aligngate_tokens_input_total", **tokens) == 12
    assert sample(text, "aligngate_tokens_output_total", **tokens) == 12
    assert sample(text, "aligngate_tokens_total", **tokens) == 24
    assert sample(text, "aligngate_tokens_total", model="flaky", tenant="acme") == 12

    # Time to first token only for the stream; backend time and overhead for every call.
    ttft = "aligngate_backend_time_to_first_token_seconds_count"
    assert sample(text, ttft, model="gpt-test") == 1
    assert sample(text, ttft, model="flaky") is None
    backend = "aligngate_backend_duration_seconds_count"
    assert sample(text, backend, model="gpt-test") == 3
    assert sample(text, backend, model="flaky") == 1
    overhead = "aligngate_gateway_overhead_seconds_count"
    assert sample(text, overhead, route="chat", model="gpt-test") == 3
    assert sample(text, overhead, route="chat", model="flaky") == 1
    assert "aligngate_backend_first_token_seconds" not in text

    assert sample(text, "aligngate_requests_in_flight", route="chat") == 0
    assert sample(text, "aligngate_requests_in_flight", route="metrics") == 1
    # flaky's one failure opened its breaker; its fallback answered.
    assert sample(text, "aligngate_circuit_breaker_state", model="flaky") == 2
    assert sample(text, "aligngate_circuit_breaker_state", model="gpt-test") == 0
    assert sample(text, "aligngate_backend_fallbacks_total", model="flaky") == 1
    headroom = "aligngate_rate_limit_remaining"
    assert sample(text, headroom, tenant="beta", kind="requests") == 9
    assert sample(text, headroom, tenant="acme", kind="requests") == 0
    assert sample(text, "process_cpu_seconds_total") is not None
    assert sample(text, "python_info") is not None
    assert not [name for name, _ in series(text) if name.endswith("_created")]


def test_quick_mode_labels_requested_models_from_a_bounded_set(upstream_url: str) -> None:
    with running_gateway(upstream_config(upstream_url, None)) as url:

        def ask(model: str) -> None:
            body = {"model": model, "messages": [{"role": "user", "content": "x"}]}
            assert httpx.post(f"{url}/v1/chat/completions", json=body).status_code == 200

        ask("gpt-a")
        ask("gpt-a")
        ask("gpt-b")
        for i in range(200):
            ask(f"made-up-{i}")
        text = httpx.get(f"{url}/metrics").text
    requests = "aligngate_requests_total"
    assert sample(text, requests, model="gpt-a", status="200") == 2
    assert sample(text, requests, model="gpt-b", status="200") == 1
    assert sample(text, requests, model="default") is None
    models = {dict(labels)["model"] for name, labels in series(text) if name == requests}
    # gpt-a, gpt-b and the first made-up names fill the room; the rest share one label.
    assert sample(text, requests, model="other", status="200") == 200 - (
        MAX_LEARNED_MODEL_LABELS - 2
    )
    assert len(models) == MAX_LEARNED_MODEL_LABELS + 1
