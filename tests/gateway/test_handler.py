"""A request's bookkeeping ends when its answer does: streams are charged, timed and logged whole.

The upstream is a real loopback server; a slow one streams one word every ``DELAY_S``.
"""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest
from structlog.testing import capture_logs

from gateway.tenants.keys import hash_key
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.upstream import UpstreamScript

KEY = "sk-tenant-handler-0123456"
DELAY_S = 0.15
MESSAGES: list[Any] = [{"role": "user", "content": "Say something."}]


def _config(upstream_url: str, **tenant: Any) -> dict[str, Any]:
    """No stages at all: a stream goes out as it arrives, with no post-call stage."""
    return {
        "models": [upstream_route("gpt-test", upstream_url)],
        "tenants": [{"name": "acme", "api_key_sha256": [hash_key(KEY)], **tenant}],
    }


@pytest.mark.parametrize("include_usage", [True, False])
def test_a_stream_without_a_post_call_stage_is_charged_to_tokens_per_minute(
    upstream: UpstreamScript, upstream_url: str, include_usage: bool
) -> None:
    # One stream of the 6-word reply costs 11 tokens; the limit allows one such stream.
    config = _config(upstream_url, limits={"tokens_per_minute": 10})
    options: Any = {"include_usage": True} if include_usage else openai.NOT_GIVEN
    with running_gateway(config) as url:
        sdk = client(url, api_key=KEY)
        stream = sdk.chat.completions.create(
            model="gpt-test", messages=MESSAGES, stream=True, stream_options=options
        )
        chunks = list(stream)
        with pytest.raises(openai.RateLimitError) as refused:
            sdk.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == upstream.reply
    assert refused.value.code == "rate_limit_exceeded"
    # The client gets the usage chunk only when it asked for one.
    assert any(c.usage is not None for c in chunks) == include_usage


def test_a_stream_is_logged_with_its_full_duration_and_its_answer(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.chunk_delay_s = DELAY_S
    words = len(upstream.reply.split(" "))
    config = _config(upstream_url, policy={"log_content": True})
    with running_gateway(config) as url, capture_logs() as logs:
        started = time.perf_counter()
        stream = client(url, api_key=KEY).chat.completions.create(
            model="gpt-test", messages=MESSAGES, stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        streamed_s = time.perf_counter() - started
        deadline = time.monotonic() + 5
        while not [e for e in logs if e["event"] == "chat_request"]:
            assert time.monotonic() < deadline, "no request log line"
            time.sleep(0.02)
    [event] = [e for e in logs if e["event"] == "chat_request"]
    assert streamed_s >= words * DELAY_S
    assert event["duration_ms"] >= words * DELAY_S * 1000
    assert event["answer"] == text == upstream.reply
    assert event["status"] == 200 and event["route"] == "chat"
