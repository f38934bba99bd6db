"""``/v1/responses`` (the Responses API, stateless) runs the tenant's stages.

Through the official client over real HTTP; the upstream and the Aligner's engine are
real loopback servers. The backend is called with chat completions.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.support.aligned import CORRECTION, KEY, ORIGINAL, aligned_gateway
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.upstream import UpstreamScript

STREAM_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


@pytest.fixture(autouse=True)
def _original_reply(upstream: UpstreamScript) -> None:
    upstream.reply = ORIGINAL


def test_a_response_is_the_aligned_answer_with_its_output_item_and_usage(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with aligned_gateway(upstream_url) as url:
        raw = client(url, api_key=KEY).responses.with_raw_response.create(
            model="gpt-test", input="Say something.", instructions="Be brief.", max_output_tokens=30
        )
    response = raw.parse()
    assert raw.headers["x-aligngate-stages"] == "aligner=corrected"
    assert response.output_text == CORRECTION
    assert response.status == "completed" and response.object == "response"
    [item] = response.output
    assert item.type == "message" and item.role == "assistant"
    assert response.usage is not None and response.usage.total_tokens == 12
    assert response.usage.input_tokens == 5 and response.usage.output_tokens == 7
    [sent] = upstream.requests
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say something."},
    ]
    assert sent["max_tokens"] == 30


def test_message_items_become_the_chat_conversation(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    items: Any = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Hello."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "More"}]},
    ]
    with aligned_gateway(upstream_url) as url:
        response = client(url, api_key=KEY).responses.create(model="gpt-test", input=items)
    assert response.output_text == CORRECTION
    assert upstream.requests[0]["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "More"},
    ]


def test_a_streamed_response_sends_its_events_with_only_the_aligned_text(
    upstream_url: str,
) -> None:
    with aligned_gateway(upstream_url) as url:
        stream = client(url, api_key=KEY).responses.create(
            model="gpt-test", input="Say something.", stream=True
        )
        events = list(stream)
    kinds = [event.type for event in events]
    assert [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k] == STREAM_EVENTS
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == CORRECTION
    assert [e.sequence_number for e in events] == list(range(len(events)))
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == CORRECTION
    assert completed.response.usage is not None and completed.response.usage.total_tokens > 0
    assert "UNALIGNED" not in repr(events)


@pytest.mark.parametrize("stream", [False, True])
def test_a_fail_closed_tenant_whose_aligner_is_down_gets_no_generated_text(
    upstream_url: str, stream: bool
) -> None:
    with aligned_gateway(upstream_url, aligner="down") as url:
        with pytest.raises(openai.APIStatusError) as refused:
            result = client(url, api_key=KEY).responses.create(
                model="gpt-test", input="Say something.", stream=stream
            )
            list(result) if stream else None  # type: ignore[call-overload]
    assert refused.value.status_code == 503
    assert refused.value.code == "stage_failed"
    assert "UNALIGNED" not in refused.value.response.text


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"store": True}, "store"),
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"tools": [{"type": "function", "name": "f", "parameters": {}}]}, "tools"),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}, "input"),
        ({"input": []}, "input"),
    ],
)
def test_what_needs_state_or_tools_is_a_clear_400_and_never_sent(
    upstream: UpstreamScript, upstream_url: str, fields: dict[str, Any], param: str
) -> None:
    with aligned_gateway(upstream_url) as url:
        response = httpx.post(
            f"{url}/v1/responses",
            json={"model": "gpt-test", "input": "Hi", **fields},
            headers={"authorization": f"Bearer {KEY}"},
        )
    assert response.status_code == 400, response.text
    assert param in response.json()["error"]["message"]
    assert upstream.requests == []


def test_store_false_is_served(upstream_url: str) -> None:
    with aligned_gateway(upstream_url) as url:
        response = client(url, api_key=KEY).responses.create(
            model="gpt-test", input="Hi", store=False
        )
    assert response.output_text == CORRECTION


def test_a_stream_cut_after_its_first_byte_ends_in_an_error_event_not_completed(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.stream_fault = "cut"
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        events = list(client(url).responses.create(model="gpt-test", input="Hi", stream=True))
    assert events[-1].type == "error"
    assert "response.completed" not in [event.type for event in events]
