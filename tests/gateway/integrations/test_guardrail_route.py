"""``POST /beta/litellm_basic_guardrail_api`` over raw HTTP: verdicts, auth, bad input, no leak."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest

from gateway.tenants.keys import hash_key
from tests.gateway.integrations.stages import (
    CORRECTION,
    KEY,
    ORIGINAL,
    PROMPT,
    REWRITE,
    engine_server,
    engines_of,
    stage_config,
    user_texts,
)
from tests.support.canned_upstream import CannedAnswers
from tests.support.gateway import running_gateway

PATH = "/beta/litellm_basic_guardrail_api"
SYSTEM = "You are terse."


@contextmanager
def guardrail_gateway(
    up: bool = True, on_failure: str = "closed", limits: dict[str, int] | None = None
) -> Iterator[tuple[httpx.Client, CannedAnswers]]:
    """A gateway whose tenant runs BPO then the Aligner, on engines that are up or down."""
    with ExitStack() as stack:
        bpo_url, bpo = engine_server(stack, REWRITE if up else None)
        aligner_url, _ = engine_server(stack, CORRECTION if up else None)
        config = {
            **stage_config(bpo_url, aligner_url, on_failure),
            "tenants": [
                {"name": "acme", "api_key_sha256": [hash_key(KEY)], "limits": limits or {}}
            ],
        }
        url = stack.enter_context(running_gateway(config, engines_of(config)))
        http = stack.enter_context(httpx.Client(base_url=url, timeout=30))
        yield http, bpo


def _request_body() -> dict[str, Any]:
    rows = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    return {
        "input_type": "request",
        "texts": [SYSTEM, PROMPT],
        "structured_messages": rows,
        "request_data": {},
        "litellm_call_id": "call-1",
    }


def test_a_request_comes_back_with_the_last_user_message_rewritten() -> None:
    with guardrail_gateway() as (http, bpo):
        response = http.post(PATH, json=_request_body(), headers={"x-api-key": KEY})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "GUARDRAIL_INTERVENED"
    assert body["texts"] == [SYSTEM, REWRITE]
    assert body["structured_messages"][1] == {"role": "user", "content": REWRITE}
    assert body["structured_messages"][0] == {"role": "system", "content": SYSTEM}
    assert PROMPT in " ".join(user_texts(bpo.requests))  # the BPO engine saw the prompt


def test_a_response_comes_back_corrected() -> None:
    body = {"input_type": "response", "texts": [ORIGINAL], "request_data": {}}
    with guardrail_gateway() as (http, _):
        response = http.post(PATH, json=body, headers={"authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    assert response.json() == {"action": "GUARDRAIL_INTERVENED", "texts": [CORRECTION]}


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "sk-wrong"}, {"authorization": "Bearer x"}])
def test_without_a_tenant_key_it_is_a_401_in_openai_error_json(headers: dict[str, str]) -> None:
    with guardrail_gateway() as (http, bpo):
        response = http.post(PATH, json=_request_body(), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert bpo.requests == []


@pytest.mark.parametrize(
    "body",
    [
        {"input_type": "prompt", "texts": ["x"]},
        {"texts": ["x"]},
        {"input_type": "request", "texts": "not a list"},
        {"input_type": "request", "structured_messages": [{"content": "no role"}]},
    ],
)
def test_bad_input_is_a_400_in_openai_error_json(body: dict[str, Any]) -> None:
    with guardrail_gateway() as (http, _):
        response = http.post(PATH, json=body, headers={"x-api-key": KEY})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]


@pytest.mark.parametrize("input_type", ["request", "response"])
def test_a_fail_closed_tenant_whose_stage_is_down_is_blocked_never_passed(input_type: str) -> None:
    body = (
        _request_body()
        if input_type == "request"
        else {"input_type": "response", "texts": [ORIGINAL], "request_data": {}}
    )
    with guardrail_gateway(up=False) as (http, _):
        response = http.post(PATH, json=body, headers={"x-api-key": KEY})
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["action"] == "BLOCKED"
    assert "fail-closed" in verdict["blocked_reason"]
    assert ORIGINAL not in response.text and "texts" not in verdict


def test_a_fail_open_tenant_whose_stage_is_down_passes_the_text_unchanged() -> None:
    body = {"input_type": "response", "texts": [ORIGINAL], "request_data": {}}
    with guardrail_gateway(up=False, on_failure="open") as (http, _):
        response = http.post(PATH, json=body, headers={"x-api-key": KEY})
    assert response.json() == {"action": "NONE"}


def test_the_route_is_in_the_openapi_schema_with_typed_models() -> None:
    with guardrail_gateway() as (http, _):
        schema = http.get("/openapi.json").json()
    operation = schema["paths"][PATH]["post"]
    request_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    response_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert request_ref.endswith("/GuardrailApiRequest")
    assert response_ref.endswith("/GuardrailApiResponse")
    action = schema["components"]["schemas"]["GuardrailAction"]
    assert set(action["enum"]) == {"NONE", "BLOCKED", "GUARDRAIL_INTERVENED"}


def test_the_tenant_s_requests_per_minute_hold_here_too() -> None:
    # Each call runs the tenant's stages on the gateway's engines: without the tenant's
    # limit, a key held to 2 chat requests a minute could run the Aligner without end.
    body = {"input_type": "response", "texts": [ORIGINAL], "request_data": {}}
    with guardrail_gateway(limits={"requests_per_minute": 2}) as (http, _):
        statuses = [http.post(PATH, json=body, headers={"x-api-key": KEY}) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429], statuses[-1].text
    refused = statuses[-1]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
