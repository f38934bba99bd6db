"""The embedded backend: a gateway route answered by one of its own engines."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from gateway.engines.base import EngineError, GenerationRequest
from tests.support.gateway import client, running_gateway
from tests.support.scripted_engine import ScriptedEngine


def _config(**backend: Any) -> dict[str, Any]:
    return {
        "engines": {"local": {"kind": "transformers"}},
        "models": [
            {"name": "local-model", "backend": {"kind": "engine", "engine": "local", **backend}}
        ],
    }


def _last_turn(request: GenerationRequest) -> str:
    assert request.messages is not None
    return f"{request.messages[-1].role} said {request.messages[-1].content}"


def test_a_chat_request_is_answered_greedily_with_the_configured_defaults() -> None:
    engine = ScriptedEngine([_last_turn], repeat=True)
    messages = [
        {"role": "developer", "content": "Be brief."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "two "}, {"type": "text", "text": "parts"}],
        },
    ]
    with running_gateway(_config(default_max_tokens=9, adapter="bpo"), {"local": engine}) as url:
        answer = client(url).chat.completions.create(
            model="local-model",
            messages=messages,
            n=2,  # type: ignore[arg-type]
        )
    assert [c.message.content for c in answer.choices] == ["user said two parts"] * 2
    assert answer.usage is not None and answer.usage.completion_tokens == 2 * 4
    sent = engine.requests[0]
    assert [t.role for t in sent.messages or []] == ["system", "user"]
    assert (sent.adapter, sent.max_tokens, sent.temperature, sent.top_p) == ("bpo", 9, 0.0, 1.0)


def test_a_streamed_answer_starts_with_the_role_and_ends_with_stop() -> None:
    engine = ScriptedEngine(["a streamed answer"])
    with running_gateway(_config(), {"local": engine}) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="local-model", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == "a streamed answer"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_an_engine_failure_is_a_502_backend_error() -> None:
    engine = ScriptedEngine([EngineError("out of memory")])
    with running_gateway(_config(), {"local": engine}) as url:
        with pytest.raises(openai.APIStatusError) as caught:
            client(url).chat.completions.create(
                model="local-model", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.status_code == 502
    assert "out of memory" not in caught.value.message


def _words(request: GenerationRequest) -> str:
    return "one two three four"


def test_a_stream_asked_for_usage_ends_with_the_engines_token_counts() -> None:
    engine = ScriptedEngine([_words], repeat=True)
    with running_gateway(_config(), {"local": engine}) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="local-model",
                messages=[{"role": "user", "content": "count to four"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        plain = client(url).chat.completions.create(
            model="local-model", messages=[{"role": "user", "content": "count to four"}]
        )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert plain.usage is not None
    assert last.usage.model_dump() == plain.usage.model_dump()
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (3, 4)
    assert all(c.usage is None for c in chunks[:-1])


def test_a_stream_not_asked_for_usage_carries_none() -> None:
    engine = ScriptedEngine([_words])
    with running_gateway(_config(), {"local": engine}) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="local-model", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_stream_cut_at_max_tokens_ends_with_finish_reason_length() -> None:
    engine = ScriptedEngine([_words], finish_reason="length")
    with running_gateway(_config(), {"local": engine}) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="local-model", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
    assert chunks[-1].choices[0].finish_reason == "length"
