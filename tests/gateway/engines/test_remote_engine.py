"""The remote engine, against a scripted HTTP transport and against the real model server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from gateway.engines.base import ChatTurn, EngineError, GenerationRequest
from gateway.engines.config import RemoteEngineConfig
from gateway.engines.registry import build_engine
from gateway.engines.remote import RemoteEngine
from gateway.model_server import create_model_server
from tests.support.engines import drain
from tests.support.scripted_engine import ScriptedEngine

Handler = Callable[[httpx.Request], httpx.Response]
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def engine_with(handler: Handler) -> RemoteEngine:
    return RemoteEngine(
        "http://vllm/v1", "base", api_key="secret", transport=httpx.MockTransport(handler)
    )


def completion(text: str, finish: str = "stop") -> httpx.Response:
    body = {"choices": [{"index": 0, "text": text, "finish_reason": finish}], "usage": USAGE}
    return httpx.Response(200, json=body)


async def test_a_raw_prompt_goes_to_completions_with_its_decoding_parameters() -> None:
    seen: list[httpx.Request] = []

    def handler(http_request: httpx.Request) -> httpx.Response:
        seen.append(http_request)
        return completion("rewritten", "length")

    request = GenerationRequest(prompt="Hi", max_tokens=7, temperature=0.6, top_p=0.9, stop=["\n"])
    (result,) = await engine_with(handler).generate([request])

    assert (result.text, result.finish_reason, result.completion_tokens) == (
        "rewritten",
        "length",
        2,
    )
    assert seen[0].url == "http://vllm/v1/completions"
    assert seen[0].headers["authorization"] == "Bearer secret"
    body = json.loads(seen[0].content)
    assert body == {
        "model": "base",
        "prompt": "Hi",
        "max_tokens": 7,
        "temperature": 0.6,
        "top_p": 0.9,
        "stop": ["\n"],
        "stream": False,
    }


async def test_messages_go_to_chat_completions_with_the_adapter_as_model() -> None:
    seen: list[dict[str, object]] = []

    def handler(http_request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(http_request.content))
        assert http_request.url.path == "/v1/chat/completions"
        return httpx.Response(
            200,
            json={
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "fixed"},
                        "finish_reason": "stop",
                    }
                ]
            },
        )

    request = GenerationRequest(messages=[ChatTurn(role="user", content="Q")], adapter="aligner")
    (result,) = await engine_with(handler).generate([request])

    assert result.text == "fixed"
    assert seen[0]["model"] == "aligner"
    assert seen[0]["messages"] == [{"role": "user", "content": "Q"}]


async def test_concurrent_requests_are_sent_concurrently() -> None:
    in_flight, peak = 0, 0

    async def handler(http_request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return completion(json.loads(http_request.content)["prompt"].upper())

    engine = RemoteEngine("http://vllm/v1", "base", transport=httpx.MockTransport(handler))
    results = await engine.generate([GenerationRequest(prompt=p) for p in ("a", "b", "c")])

    assert [r.text for r in results] == ["A", "B", "C"]
    assert peak == 3


async def test_http_errors_and_unreachable_servers_are_engine_errors() -> None:
    def server_error(http_request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "boom"}})

    def unreachable(http_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=http_request)

    with pytest.raises(EngineError, match="500"):
        await engine_with(server_error).generate([GenerationRequest(prompt="Hi")])
    with pytest.raises(EngineError, match="connection refused"):
        await engine_with(unreachable).generate([GenerationRequest(prompt="Hi")])
    assert not await engine_with(unreachable).ready()


async def test_streaming_reads_server_sent_events_until_done() -> None:
    events: list[dict[str, object]] = [
        {"choices": [{"index": 0, "delta": {"content": piece}}]} for piece in ("Hel", "lo")
    ]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
    events.append({"choices": [], "usage": USAGE})
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"

    def handler(http_request: httpx.Request) -> httpx.Response:
        body = json.loads(http_request.content)
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})

    request = GenerationRequest(messages=[ChatTurn(role="user", content="Hi")])
    pieces, result = await drain(engine_with(handler).stream(request))
    assert pieces == ["Hel", "lo"]
    assert result is not None and result.text == "Hello"
    assert (result.prompt_tokens, result.completion_tokens) == (3, 2)
    assert result.finish_reason == "length"


def test_the_registry_builds_a_remote_engine_reading_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = RemoteEngineConfig(api_base="http://vllm/v1", model="base", api_key_env="VLLM_KEY")
    with pytest.raises(EngineError, match="VLLM_KEY"):
        build_engine(config)
    monkeypatch.setenv("VLLM_KEY", "k")
    assert isinstance(build_engine(config), RemoteEngine)


@pytest.mark.model
async def test_the_remote_engine_generates_through_the_real_model_server(
    model_server_url: str,
) -> None:
    engine = RemoteEngine(model_server_url, "smollm2")
    try:
        assert await engine.ready()
        chat = GenerationRequest(messages=[ChatTurn(role="user", content="Say hi")], max_tokens=8)
        raw, answer = await engine.generate(
            [GenerationRequest(prompt="1, 2, 3,", max_tokens=6), chat]
        )
        pieces, result = await drain(engine.stream(chat))
        streamed = "".join(pieces)
    finally:
        await engine.aclose()
    assert raw.text and answer.text
    assert raw.completion_tokens == 6
    assert streamed == answer.text
    assert result is not None
    assert (result.prompt_tokens, result.completion_tokens) == (
        answer.prompt_tokens,
        answer.completion_tokens,
    )


def _scripted_model_server(engine: ScriptedEngine) -> RemoteEngine:
    app = create_model_server(engine, "base", ["aligner"])
    return RemoteEngine("http://server/v1", "base", transport=httpx.ASGITransport(app=app))


async def test_the_remote_engine_reads_what_the_model_server_sends() -> None:
    answers = ScriptedEngine(["a raw answer", "a chat answer", "streamed raw", "streamed chat"])
    engine = _scripted_model_server(answers)
    chat = GenerationRequest(messages=[ChatTurn(role="user", content="Q")], adapter="aligner")
    raw = GenerationRequest(prompt="P", max_tokens=4)

    results = [await engine.generate([request]) for request in (raw, chat)]
    drained = [await drain(engine.stream(r)) for r in (raw, chat)]
    streamed = ["".join(pieces) for pieces, _ in drained]
    counts = [(r.prompt_tokens, r.completion_tokens) for _, r in drained if r is not None]

    assert [r.text for (r,) in results] == ["a raw answer", "a chat answer"]
    assert results[1][0].completion_tokens == 3
    assert [s.strip() for s in streamed] == ["streamed raw", "streamed chat"]
    assert counts == [(1, 2), (1, 2)]  # the model server's counts, carried by its stream
    assert [(r.adapter, r.max_tokens) for r in answers.requests[:2]] == [
        (None, 4),
        ("aligner", 256),
    ]


async def test_a_failure_mid_stream_is_an_engine_error_not_a_short_answer() -> None:
    engine = _scripted_model_server(ScriptedEngine([EngineError("model crashed")]))
    chat = GenerationRequest(messages=[ChatTurn(role="user", content="Q")])
    with pytest.raises(EngineError, match="model crashed"):
        _ = [p async for p in engine.stream(chat)]


async def test_a_stream_cut_before_done_is_an_engine_error() -> None:
    event = {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}

    def handler(http_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=f"data: {json.dumps(event)}\n\n")

    request = GenerationRequest(messages=[ChatTurn(role="user", content="Hi")])
    with pytest.raises(EngineError, match="DONE"):
        _ = [p async for p in engine_with(handler).stream(request)]
