"""``/metrics`` exposes the gateway's series, and their label values stay bounded."""

from __future__ import annotations

import httpx

from tests.gateway.tenants.test_tenant_policies import _small_model, config
from tests.support.gateway import ADMIN_KEY, client, create_tenant, running_gateway
from tests.support.metrics import sample, series
from tests.support.scripted_engine import ScriptedEngine


def test_metrics_show_requests_latency_stages_tokens_and_first_token_time(
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
    assert sample(text, "aligngate_backend_first_token_seconds_count", model="gpt-test") == 1


def test_a_flood_of_unknown_model_names_adds_no_series(upstream_url: str) -> None:
    with running_gateway(config(upstream_url), {"small": ScriptedEngine([])}) as url:

        def unknown(i: int) -> None:
            body = {"model": f"no-such-model-{i}", "messages": [{"role": "user", "content": "x"}]}
            assert httpx.post(f"{url}/v1/chat/completions", json=body).status_code == 404

        unknown(0)
        before = httpx.get(f"{url}/metrics").text
        for i in range(1, 200):
            unknown(i)
        after = httpx.get(f"{url}/metrics").text
    assert series(after) == series(before)
    assert sample(after, "aligngate_requests_total", model="unknown", status="404") == 200
