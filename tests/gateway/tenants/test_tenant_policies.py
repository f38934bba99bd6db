"""Tenants with different policies get different stage behaviour, over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from structlog.testing import capture_logs

from gateway.engines.base import EngineError, GenerationRequest
from tests.support.gateway import (
    ADMIN_KEY,
    admin,
    client,
    create_tenant,
    running_gateway,
    upstream_route,
)
from tests.support.metrics import sample
from tests.support.scripted_engine import ScriptedEngine
from tests.support.upstream import UpstreamScript

CORRECTED = "A corrected, careful answer."


def _small_model(request: GenerationRequest) -> str:
    """Rewrites prompts by appending a clause; corrects answers to a fixed text."""
    assert request.messages is not None
    text = request.messages[-1].content
    if text.startswith("Edit the following"):
        return CORRECTED
    return text.split("\n", 1)[1] + " Answer precisely."


def config(upstream_url: str) -> dict[str, Any]:
    """A gateway with both stages on a scripted small model."""
    return {
        "engines": {"small": {"kind": "remote", "api_base": "http://127.0.0.1:9/v1", "model": "m"}},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {
            "bpo": {"kind": "bpo", "engine": "small"},
            "aligner": {"kind": "aligner", "engine": "small"},
        },
        "pipeline": ["bpo", "aligner"],
    }


def _ask(url: str, key: str, **headers: str) -> Any:
    return client(url, api_key=key).chat.completions.with_raw_response.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "Explain tides"}],
        extra_headers=headers or None,
    )


def test_two_tenants_with_different_policies_get_different_stages(upstream_url: str) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key_a = create_tenant(url, "acme", policy={"pipeline": ["bpo"]})
        key_b = create_tenant(url, "bank", policy={"stages": {"bpo": {"mode": "off"}}})
        a, b = _ask(url, key_a), _ask(url, key_b)
    assert a.headers["x-aligngate-stages"] == "bpo=rewritten"
    assert b.headers["x-aligngate-stages"] == "aligner=corrected"
    assert b.parse().choices[0].message.content == CORRECTED
    assert a.parse().choices[0].message.content != CORRECTED


def test_admin_changes_apply_on_the_very_next_request(upstream_url: str) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme")
        before = _ask(url, key).headers["x-aligngate-stages"]
        with admin(url) as http:
            http.put("/tenants/acme/policy", json={"pipeline": []}).raise_for_status()
        after = _ask(url, key).headers.get("x-aligngate-stages")
    assert before == "bpo=rewritten;aligner=corrected"
    assert after is None  # no stage ran: no stage header


def test_a_revoked_key_stops_working_on_the_next_request(upstream_url: str) -> None:
    with running_gateway(
        config(upstream_url), {"small": ScriptedEngine([])}, admin_key=ADMIN_KEY
    ) as url:
        key = create_tenant(url, "acme", policy={"pipeline": []})
        _ask(url, key)
        with admin(url) as http:
            [record] = http.get("/tenants/acme/keys").json()
            http.delete(f"/tenants/acme/keys/{record['id']}").raise_for_status()
        with pytest.raises(openai.AuthenticationError):
            _ask(url, key)


@pytest.mark.parametrize("policy", ["open", "closed"])
def test_a_failing_stage_follows_the_tenants_failure_policy(
    upstream: UpstreamScript, upstream_url: str, policy: str
) -> None:
    upstream.reply = "UNALIGNED original answer"
    engine = ScriptedEngine([EngineError("engine down")], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme", policy={"pipeline": ["aligner"], "on_failure": policy})
        response = httpx.post(
            f"{url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]},
        )
    if policy == "open":
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == upstream.reply
        assert response.headers["x-aligngate-stages"] == "aligner=failed"
    else:
        assert response.status_code == 503
        assert "UNALIGNED" not in response.text


def test_shadow_mode_returns_the_original_answer_and_logs_the_diff(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    policy = {
        "pipeline": ["aligner"],
        "stages": {"aligner": {"mode": "shadow"}},
        "log_content": True,
    }
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme", policy=policy)
        with capture_logs() as logs:
            raw = _ask(url, key)
        metrics = httpx.get(f"{url}/metrics").text
    assert raw.parse().choices[0].message.content == upstream.reply
    assert raw.headers["x-aligngate-stages"] == "aligner=shadow-diff"
    [event] = [e for e in logs if e["event"] == "chat_request"]
    assert event["stages"][0]["outcome"] == "shadow-diff"
    assert event["stages"][0]["proposed"] == CORRECTED
    shadow = sample(
        metrics,
        "aligngate_stage_outcomes_total",
        stage="aligner",
        outcome="shadow-diff",
        tenant="acme",
    )
    assert shadow == 1


def test_tenant_limits_reject_oversized_requests(upstream_url: str) -> None:
    with running_gateway(
        config(upstream_url), {"small": ScriptedEngine([])}, admin_key=ADMIN_KEY
    ) as url:
        key = create_tenant(url, "acme", policy={"pipeline": []}, limits={"max_tokens": 50})
        with pytest.raises(openai.BadRequestError) as caught:
            client(url, api_key=key).chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "Hi"}], max_tokens=500
            )
    assert caught.value.code == "limit_exceeded"
