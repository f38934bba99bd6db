"""Nothing of a corrected answer's original survives beside the correction.

The upstream answers with every field that can spell out the original text:
logprobs, reasoning fields, an audio transcript, annotations, text next to tool calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.canned_upstream import CannedAnswers, canned_server, chunk, completion
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.scripted_engine import ScriptedEngine

ORIGINAL = "ORIGINAL-SECRET harmful steps"
CORRECTION = "I can help with that safely: here is a careful, corrected reply."
TOOL_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "lookup", "arguments": '{"q": "tides"}'},
}
LOGPROBS = {
    "content": [
        {"token": word, "logprob": -0.1, "bytes": list(word.encode()), "top_logprobs": []}
        for word in ORIGINAL.split(" ")
    ],
    "refusal": None,
}


def _config(upstream_url: str) -> dict[str, Any]:
    return {
        "engines": {"small": {"kind": "remote", "api_base": "http://127.0.0.1:9/v1", "model": "m"}},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {"aligner": {"kind": "aligner", "engine": "small", "on_failure": "closed"}},
        "pipeline": ["aligner"],
    }


def _ask(url: str, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt-test", "messages": [{"role": "user", "content": "Tell me"}], **body},
        timeout=30,
    )


def _message_with_every_side_channel() -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": ORIGINAL,
        "reasoning_content": f"Thinking: {ORIGINAL}",
        "reasoning": f"Thinking: {ORIGINAL}",
        "refusal": None,
        "audio": {"id": "audio_1", "transcript": ORIGINAL},
        "annotations": [{"type": "url_citation", "url_citation": {"title": ORIGINAL}}],
    }


def test_a_corrected_answer_carries_no_logprobs_or_reasoning_of_the_original() -> None:
    answers = CannedAnswers(
        completion=completion(_message_with_every_side_channel(), logprobs=LOGPROBS)
    )
    with canned_server(answers) as upstream_url:
        engine = ScriptedEngine([CORRECTION])
        with running_gateway(_config(upstream_url), {"small": engine}) as url:
            response = _ask(url, logprobs=True)
    assert response.status_code == 200
    assert response.headers["x-aligngate-stages"] == "aligner=corrected"
    assert "ORIGINAL" not in response.text and "SECRET" not in response.text
    choice = response.json()["choices"][0]
    assert choice["message"]["content"] == CORRECTION
    assert choice.get("logprobs") is None
    assert choice["finish_reason"] == "stop"


def test_an_unchanged_answer_keeps_its_logprobs() -> None:
    answers = CannedAnswers(
        completion=completion({"role": "assistant", "content": ORIGINAL}, logprobs=LOGPROBS)
    )
    with canned_server(answers) as upstream_url:
        engine = ScriptedEngine([ORIGINAL])
        with running_gateway(_config(upstream_url), {"small": engine}) as url:
            response = _ask(url, logprobs=True)
    assert response.headers["x-aligngate-stages"] == "aligner=unchanged"
    assert response.json()["choices"][0]["logprobs"] == LOGPROBS


def test_text_next_to_tool_calls_is_corrected_and_the_tool_calls_stay() -> None:
    message = {"role": "assistant", "content": ORIGINAL, "tool_calls": [TOOL_CALL]}
    answers = CannedAnswers(completion=completion(message))
    with canned_server(answers) as upstream_url:
        engine = ScriptedEngine([CORRECTION])
        with running_gateway(_config(upstream_url), {"small": engine}) as url:
            raw = client(url).chat.completions.with_raw_response.create(
                model="gpt-test",
                messages=[{"role": "user", "content": "Look it up"}],
                tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
                tool_choice="required",
            )
    reply = raw.parse().choices[0].message
    assert raw.headers["x-aligngate-stages"] == "aligner=corrected"
    assert reply.content == CORRECTION
    assert reply.tool_calls is not None
    assert reply.tool_calls[0].model_dump() == TOOL_CALL
    assert len(engine.requests) == 1


def _streamed(text: str, *, reasoning: bool, tool_call: bool) -> Iterator[dict[str, Any]]:
    yield chunk({"role": "assistant", "content": ""})
    if reasoning:
        for word in text.split(" "):
            yield chunk({"reasoning_content": word + " ", "reasoning": word + " "})
    for token in LOGPROBS["content"]:
        yield chunk({"content": token["token"] + " "}, logprobs={"content": [token]})
    if tool_call:
        first = {"index": 0, **TOOL_CALL, "function": {"name": "lookup", "arguments": ""}}
        yield chunk({"tool_calls": [first]})
        rest = {"index": 0, "function": {"arguments": TOOL_CALL["function"]["arguments"]}}
        yield chunk({"tool_calls": [rest]})
    yield chunk({}, finish_reason="tool_calls" if tool_call else "stop")


def _events(wire: str) -> list[dict[str, Any]]:
    lines = [line[6:] for line in wire.splitlines() if line.startswith("data: ")]
    return [json.loads(line) for line in lines if line != "[DONE]"]


def test_a_corrected_stream_replays_no_logprobs_or_reasoning_of_the_original() -> None:
    answers = CannedAnswers(chunks=lambda: _streamed(ORIGINAL, reasoning=True, tool_call=False))
    with canned_server(answers) as upstream_url:
        engine = ScriptedEngine([CORRECTION])
        with running_gateway(_config(upstream_url), {"small": engine}) as url:
            response = _ask(url, stream=True, logprobs=True)
    assert response.headers["x-aligngate-stages"] == "aligner=corrected"
    assert "ORIGINAL" not in response.text and "SECRET" not in response.text
    choices = [c for event in _events(response.text) for c in event["choices"]]
    assert "".join(c["delta"].get("content") or "" for c in choices) == CORRECTION
    assert all("logprobs" not in c and "reasoning_content" not in c["delta"] for c in choices)


def test_a_corrected_stream_keeps_its_tool_calls() -> None:
    answers = CannedAnswers(chunks=lambda: _streamed(ORIGINAL, reasoning=False, tool_call=True))
    with canned_server(answers) as upstream_url:
        engine = ScriptedEngine([CORRECTION])
        with running_gateway(_config(upstream_url), {"small": engine}) as url:
            chunks = list(
                client(url).chat.completions.create(
                    model="gpt-test",
                    messages=[{"role": "user", "content": "Look it up"}],
                    stream=True,
                )
            )
    deltas = [c.choices[0] for c in chunks if c.choices]
    assert "".join(d.delta.content or "" for d in deltas) == CORRECTION
    calls = [call for d in deltas for call in d.delta.tool_calls or []]
    assert calls[0].id == "call_1" and calls[0].function is not None
    assert calls[0].function.name == "lookup"
    assert "".join(c.function.arguments or "" for c in calls if c.function) == '{"q": "tides"}'
    assert deltas[-1].finish_reason == "tool_calls"


@pytest.mark.parametrize("stream", [False, True])
def test_an_unchanged_answer_with_tool_calls_is_checked_and_passes(stream: bool) -> None:
    message = {"role": "assistant", "content": "Let me look that up.", "tool_calls": [TOOL_CALL]}
    answers = CannedAnswers(
        completion=completion(message),
        chunks=lambda: [chunk(message), chunk({}, finish_reason="tool_calls")],
    )
    with canned_server(answers) as upstream_url:
        engine = ScriptedEngine(["Let me look that up."])
        with running_gateway(_config(upstream_url), {"small": engine}) as url:
            response = _ask(url, stream=stream)
    assert response.headers["x-aligngate-stages"] == "aligner=unchanged"
    assert "call_1" in response.text
    assert len(engine.requests) == 1
