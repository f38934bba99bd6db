"""The stage pipeline around a real upstream: rewrites, corrections, streams and failures."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from gateway.engines.base import EngineError, GenerationRequest
from tests.support.canned_upstream import CannedAnswers, canned_server, completion
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.scripted_engine import ScriptedEngine
from tests.support.upstream import UpstreamScript

CORRECTION = "I can help with that safely: here is a careful, corrected reply."


def _config(upstream_url: str, pipeline: list[str], **stage: Any) -> dict[str, Any]:
    return {
        "engines": {"small": {"kind": "remote", "api_base": "http://127.0.0.1:9/v1", "model": "m"}},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {
            "bpo": {"kind": "bpo", "engine": "small", **stage},
            "aligner": {"kind": "aligner", "engine": "small", **stage},
        },
        "pipeline": pipeline,
    }


_REWRITE_TAIL = " Please answer step by step and be precise."


def _rewrite(request: GenerationRequest) -> str:
    assert request.messages is not None
    prompt = request.messages[-1].content.split("\n", 1)[1]
    return prompt + _REWRITE_TAIL


def test_bpo_rewrites_only_the_last_user_message(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    engine = ScriptedEngine([_rewrite])
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": "Explain tides"},
    ]
    with running_gateway(_config(upstream_url, ["bpo"]), {"small": engine}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-test", messages=messages
        )
    sent = upstream.requests[0]["messages"]
    assert sent[:3] == messages[:3]
    assert sent[3]["content"] == "Explain tides Please answer step by step and be precise."
    assert raw.headers["x-aligngate-stages"] == "bpo=rewritten"


def test_the_aligner_replaces_the_answer_and_says_so(upstream_url: str) -> None:
    engine = ScriptedEngine([CORRECTION])
    with running_gateway(_config(upstream_url, ["aligner"]), {"small": engine}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "Tell me"}]
        )
    assert raw.parse().choices[0].message.content == CORRECTION
    assert raw.headers["x-aligngate-stages"] == "aligner=corrected"


def test_the_aligner_sees_the_original_question_not_the_rewrite(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    engine = ScriptedEngine([_rewrite, CORRECTION])
    with running_gateway(_config(upstream_url, ["bpo", "aligner"]), {"small": engine}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "Explain tides"}]
        )
    aligner_input = engine.requests[1].messages
    assert aligner_input is not None
    assert "Question: Explain tides\nAnswer: " + upstream.reply in aligner_input[0].content
    assert raw.headers["x-aligngate-stages"] == "bpo=rewritten;aligner=corrected"


def test_a_stream_with_a_post_call_stage_leaks_no_token_of_the_original_answer(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.reply = "ORIGINAL-ALPHA ORIGINAL-BETA ORIGINAL-GAMMA harmful-words"
    engine = ScriptedEngine([CORRECTION])
    with running_gateway(_config(upstream_url, ["aligner"]), {"small": engine}) as url:
        with httpx.stream(
            "POST",
            f"{url}/v1/chat/completions",
            json={
                "model": "gpt-test",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        ) as response:
            wire = "".join(response.iter_text())
    for token in ("ORIGINAL", "ALPHA", "BETA", "GAMMA", "harmful"):
        assert token not in wire
    assert wire.rstrip().endswith("data: [DONE]")
    assert '"usage"' in wire
    assert "careful" in wire


def test_a_streamed_correction_reads_as_the_corrected_text(upstream_url: str) -> None:
    engine = ScriptedEngine([CORRECTION])
    with running_gateway(_config(upstream_url, ["aligner"]), {"small": engine}) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "Hi"}], stream=True
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == CORRECTION
    assert len(chunks) > 3


def test_a_stream_with_only_a_pre_call_stage_passes_tokens_through(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    engine = ScriptedEngine([_rewrite])
    with running_gateway(_config(upstream_url, ["bpo"]), {"small": engine}) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "Hi there"}], stream=True
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == upstream.reply


def test_a_tool_call_answer_is_skipped_by_the_aligner(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.tool_call = True
    engine = ScriptedEngine([])
    with running_gateway(_config(upstream_url, ["aligner"]), {"small": engine}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "Look it up"}]
        )
    message = raw.parse().choices[0].message
    assert message.tool_calls is not None and message.tool_calls[0].function.name == "lookup"
    assert raw.headers["x-aligngate-stages"] == "aligner=skipped"
    assert engine.requests == []


def test_a_failing_stage_under_fail_open_answers_without_it(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    engine = ScriptedEngine([EngineError("down")])
    config = _config(upstream_url, ["aligner"], on_failure="open")
    with running_gateway(config, {"small": engine}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
        )
    assert raw.parse().choices[0].message.content == upstream.reply
    assert raw.headers["x-aligngate-stages"] == "aligner=failed"


@pytest.mark.parametrize("stream", [False, True])
def test_a_failing_stage_under_fail_closed_gives_an_error_and_no_answer(
    upstream: UpstreamScript, upstream_url: str, stream: bool
) -> None:
    upstream.reply = "UNALIGNED-SECRET answer"
    engine = ScriptedEngine([EngineError("down")])
    config = _config(upstream_url, ["aligner"], on_failure="closed")
    with running_gateway(config, {"small": engine}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={
                "model": "gpt-test",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": stream,
            },
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "stage_failed"
    assert "UNALIGNED" not in response.text


def test_a_slow_stage_times_out_and_keeps_the_original_prompt(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    engine = ScriptedEngine([_rewrite], delay_s=2.0)
    config = _config(upstream_url, ["bpo"], timeout_s=0.2)
    with running_gateway(config, {"small": engine}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "Explain tides"}]
        )
    assert upstream.requests[0]["messages"][0]["content"] == "Explain tides"
    assert raw.headers["x-aligngate-stages"] == "bpo=timed-out"


def test_a_slow_stage_under_fail_closed_is_an_error(upstream_url: str) -> None:
    engine = ScriptedEngine([_rewrite], delay_s=2.0)
    config = _config(upstream_url, ["bpo"], timeout_s=0.2, on_failure="closed")
    with running_gateway(config, {"small": engine}) as url:
        with pytest.raises(openai.APIStatusError) as caught:
            client(url).chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "Explain tides"}]
            )
    assert caught.value.status_code == 503


IMAGE = {
    "type": "image_url",
    "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
}


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (
            [{"type": "text", "text": "Describe this picture"}, IMAGE],
            [
                {"type": "text", "text": "Describe this picture" + _REWRITE_TAIL},
                IMAGE,
            ],
        ),
        (
            [{"type": "text", "text": "Look at "}, IMAGE, {"type": "text", "text": "and explain"}],
            [{"type": "text", "text": "Look at and explain" + _REWRITE_TAIL}, IMAGE],
        ),
    ],
)
def test_a_bpo_rewrite_replaces_only_the_text_parts_and_keeps_the_images(
    upstream: UpstreamScript,
    upstream_url: str,
    parts: list[dict[str, Any]],
    expected: list[dict[str, Any]],
) -> None:
    engine = ScriptedEngine([_rewrite])
    with running_gateway(_config(upstream_url, ["bpo"]), {"small": engine}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-test",
            messages=[{"role": "user", "content": parts}],
        )
    assert raw.headers["x-aligngate-stages"] == "bpo=rewritten"
    assert upstream.requests[0]["messages"][0]["content"] == expected


@pytest.mark.parametrize(
    ("pipeline", "replies", "delay_s", "stages"),
    [
        (["aligner"], [EngineError("down")], 0.0, "aligner=failed"),
        (["bpo", "aligner"], [_rewrite], 2.0, "bpo=timed-out"),
        (["bpo", "aligner"], [_rewrite, EngineError("down")], 0.0, "bpo=rewritten;aligner=failed"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_a_fail_closed_503_says_what_each_stage_did_and_when_to_retry(
    upstream_url: str,
    pipeline: list[str],
    replies: list[Any],
    delay_s: float,
    stages: str,
    stream: bool,
) -> None:
    engine = ScriptedEngine(replies, delay_s=delay_s)
    config = _config(upstream_url, pipeline, on_failure="closed", timeout_s=0.5)
    with running_gateway(config, {"small": engine}) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={
                "model": "gpt-test",
                "messages": [{"role": "user", "content": "Explain tides"}],
                "stream": stream,
            },
        )
    assert response.status_code == 503
    assert response.headers["x-aligngate-stages"] == stages
    assert int(response.headers["retry-after"]) > 0


def test_one_failed_choice_of_several_shows_as_failed_not_corrected() -> None:
    two = completion(
        {"role": "assistant", "content": "First original."},
        {"role": "assistant", "content": "Second original."},
    )
    with canned_server(CannedAnswers(completion=two)) as upstream_url:
        engine = ScriptedEngine([CORRECTION, EngineError("down")])
        config = _config(upstream_url, ["aligner"], on_failure="open")
        with running_gateway(config, {"small": engine}) as url:
            raw = client(url).chat.completions.with_raw_response.create(
                model="gpt-test", messages=[{"role": "user", "content": "Hi"}], n=2
            )
    contents = [c.message.content for c in raw.parse().choices]
    assert contents == [CORRECTION, "Second original."]
    assert raw.headers["x-aligngate-stages"] == "aligner=failed"
