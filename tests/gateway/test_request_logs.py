"""One structured event per request; content only on opt-in, and then redacted."""

from __future__ import annotations

import json

from structlog.testing import capture_logs

from gateway.engines.fake import ScriptedEngine
from gateway.redaction import redact
from tests.gateway.tenants.test_tenant_policies import _small_model, config
from tests.support.gateway import ADMIN_KEY, client, create_tenant, running_gateway
from tests.support.upstream import UpstreamScript

SECRET_PROMPT = (
    "My key is sk-live-abcdef1234567890 and mail bob@example.com, card 4111 1111 1111 1111"
)


def _one_request(url: str, key: str) -> None:
    client(url, api_key=key).chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": SECRET_PROMPT}]
    )


def test_a_request_logs_one_event_without_its_content_by_default(upstream_url: str) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme")
        with capture_logs() as logs:
            _one_request(url, key)
    [event] = [e for e in logs if e["event"] == "chat_request"]
    assert event["tenant"] == "acme" and event["status"] == 200
    assert event["request_id"].startswith("req-")
    assert [s["stage"] for s in event["stages"]] == ["bpo", "aligner"]
    assert all(s["duration_ms"] >= 0 for s in event["stages"])
    everything = json.dumps(logs)
    assert "sk-live" not in everything and "bob@example.com" not in everything
    assert "Explain" not in everything and "prompt" not in event


def test_opted_in_content_is_logged_with_secrets_redacted(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.reply = "Call me at alice@example.org"
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme", policy={"log_content": True, "pipeline": []})
        with capture_logs() as logs:
            _one_request(url, key)
    [event] = [e for e in logs if e["event"] == "chat_request"]
    assert "[REDACTED_KEY]" in event["prompt"] and "sk-live" not in event["prompt"]
    assert "[REDACTED_EMAIL]" in event["prompt"] and "[REDACTED_CARD]" in event["prompt"]
    assert event["answer"] == "Call me at [REDACTED_EMAIL]"
    assert key not in json.dumps(logs)


def test_redaction_keeps_numbers_that_are_not_card_numbers() -> None:
    assert redact("order 1234 5678 9012 3456") == "order 1234 5678 9012 3456"
    assert redact("Bearer abcdefghijklmnop") == "Bearer [REDACTED_KEY]"
