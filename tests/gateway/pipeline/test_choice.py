"""A client choosing its stages per request (body field, LiteLLM's spelling, or header),
only ever among the stages its tenant's plan runs, over real HTTP with the official client."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from gateway.tenants.keys import hash_key
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.scripted_engine import ScriptedEngine
from tests.support.upstream import UpstreamScript

KEY = "sk-choosing-tenant-0123456789"
REWRITE = "Explain the tides, step by step and precisely."
CORRECTION = "A careful, corrected answer about tides."
QUESTION = [{"role": "user", "content": "Explain tides"}]


def _config(upstream_url: str, aligner_fails: str = "open", **policy: Any) -> dict[str, Any]:
    nowhere = {"kind": "remote", "api_base": "http://127.0.0.1:9/v1", "model": "m"}
    return {
        "engines": {"rewriter": nowhere, "corrector": nowhere},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {
            "bpo": {"kind": "bpo", "engine": "rewriter"},
            "aligner": {"kind": "aligner", "engine": "corrector", "on_failure": aligner_fails},
        },
        "pipeline": ["bpo", "aligner"],
        "tenants": [{"name": "acme", "api_key_sha256": [hash_key(KEY)], "policy": policy}],
    }


def _engines() -> dict[str, ScriptedEngine]:
    return {
        "rewriter": ScriptedEngine([REWRITE], repeat=True),
        "corrector": ScriptedEngine([CORRECTION], repeat=True),
    }


def _ask(url: str, **options: Any) -> Any:
    return client(url, KEY).chat.completions.with_raw_response.create(
        model="gpt-test", messages=QUESTION, **options
    )


def test_the_body_field_keeps_only_the_chosen_stage_and_never_goes_upstream(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway(_config(upstream_url), _engines()) as url:
        raw = _ask(url, extra_body={"aligngate": {"stages": ["aligner"]}})
    assert raw.headers["x-aligngate-stages"] == "aligner=corrected"
    assert raw.parse().choices[0].message.content == CORRECTION
    sent = upstream.requests[0]
    assert sent["messages"][-1]["content"] == "Explain tides"  # BPO did not run
    assert "aligngate" not in sent


def test_litellms_guardrails_list_is_accepted_and_not_forwarded(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway(_config(upstream_url), _engines()) as url:
        raw = _ask(url, extra_body={"guardrails": ["bpo"]})
    assert raw.headers["x-aligngate-stages"] == "bpo=rewritten"
    assert raw.parse().choices[0].message.content == upstream.reply  # no Aligner
    assert upstream.requests[0]["messages"][-1]["content"] == REWRITE
    assert "guardrails" not in upstream.requests[0]


def test_the_header_chooses_too_streams_included(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway(_config(upstream_url), _engines()) as url:
        with client(url, KEY).chat.completions.with_streaming_response.create(
            model="gpt-test",
            messages=QUESTION,
            stream=True,
            extra_headers={"x-aligngate-stages": "bpo"},
        ) as response:
            stages = response.headers["x-aligngate-stages"]
            text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert stages == "bpo=rewritten"
    assert text == upstream.reply
    assert upstream.requests[0]["messages"][-1]["content"] == REWRITE


def test_without_a_choice_every_planned_stage_runs(upstream_url: str) -> None:
    with running_gateway(_config(upstream_url), _engines()) as url:
        raw = _ask(url)
    assert raw.headers["x-aligngate-stages"] == "bpo=rewritten;aligner=corrected"


@pytest.mark.parametrize(
    ("extra_body", "policy"),
    [
        ({"aligngate": {"stages": ["aligner", "jailbreak-filter"]}}, {}),  # not configured
        ({"guardrails": ["aligner"]}, {"pipeline": ["bpo"]}),  # configured, not the tenant's
        ({"guardrails": ["bpo"]}, {"stages": {"bpo": {"mode": "off"}}}),  # turned off
    ],
)
def test_a_stage_outside_the_plan_is_a_400_never_added(
    upstream: UpstreamScript, upstream_url: str, extra_body: dict[str, Any], policy: dict[str, Any]
) -> None:
    with running_gateway(_config(upstream_url, **policy), _engines()) as url:
        with pytest.raises(openai.BadRequestError) as raised:
            _ask(url, extra_body=extra_body)
    error = raised.value.body
    assert isinstance(error, dict)
    assert error["code"] == "stage_not_allowed"
    assert error["type"] == "invalid_request_error"
    assert "may choose among" in error["message"]
    assert upstream.requests == []


def test_a_fail_closed_stage_cannot_be_dropped_by_the_client(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway(_config(upstream_url, aligner_fails="closed"), _engines()) as url:
        raw = _ask(url, extra_body={"aligngate": {"stages": ["bpo"]}})
        header_raw = _ask(url, extra_headers={"x-aligngate-stages": ""})
    assert raw.headers["x-aligngate-stages"] == "bpo=rewritten;aligner=corrected"
    assert raw.parse().choices[0].message.content == CORRECTION
    # An empty choice drops every stage it may: the fail-open BPO, not the Aligner.
    assert header_raw.headers["x-aligngate-stages"] == "aligner=corrected"


def test_a_tenant_wide_fail_closed_policy_keeps_every_stage(upstream_url: str) -> None:
    config = _config(upstream_url, on_failure="closed")
    with running_gateway(config, _engines()) as url:
        raw = _ask(url, extra_body={"guardrails": []})
    assert raw.headers["x-aligngate-stages"] == "bpo=rewritten;aligner=corrected"


@pytest.mark.parametrize(
    "extra_body",
    [{"aligngate": ["bpo"]}, {"aligngate": {"stages": "bpo"}}, {"guardrails": [3]}],
)
def test_a_malformed_choice_is_a_400(upstream_url: str, extra_body: dict[str, Any]) -> None:
    with running_gateway(_config(upstream_url), _engines()) as url:
        with pytest.raises(openai.BadRequestError) as raised:
            _ask(url, extra_body=extra_body)
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["param"] in {"aligngate", "aligngate.stages", "guardrails"}


def test_the_responses_and_completions_routes_take_the_choice(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with running_gateway(_config(upstream_url), _engines()) as url:
        gateway = client(url, KEY)
        response = gateway.responses.with_raw_response.create(
            model="gpt-test", input="Explain tides", extra_body={"guardrails": ["aligner"]}
        )
        legacy = httpx.post(
            f"{url}/v1/completions",
            headers={"authorization": f"Bearer {KEY}"},
            json={"model": "gpt-test", "prompt": "Explain tides", "aligngate": {"stages": []}},
        )
    assert response.headers["x-aligngate-stages"] == "aligner=corrected"
    assert legacy.status_code == 200
    assert "x-aligngate-stages" not in legacy.headers
    assert all("aligngate" not in body and "guardrails" not in body for body in upstream.requests)
