"""A real misbehaving upstream on loopback: every fault reaches the client as a clear error."""

from __future__ import annotations

import socket
import time
from typing import Any, Literal

import httpx
import openai
import pytest

from gateway.engines.config import RemoteEngineConfig
from gateway.engines.remote import RemoteEngine
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.scripted_engine import ScriptedEngine
from tests.support.servers import serve_in_thread
from tests.support.upstream import RawScript, UpstreamScript, create_upstream, raw_upstream

HELLO = [{"role": "user", "content": "Hi"}]
FAST_RETRY = {"attempts": 3, "backoff_s": 0.01}


def _route(upstream_url: str, **backend: Any) -> dict[str, Any]:
    return {
        "models": [upstream_route("gpt-test", upstream_url, **{"retry": FAST_RETRY, **backend})]
    }


def _post(url: str, stream: bool = False) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt-test", "messages": HELLO, "stream": stream},
        timeout=30,
    )


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["message"] and "Traceback" not in response.text
    return error


def test_a_refused_connection_is_a_502_after_retries() -> None:
    with running_gateway(_route("http://127.0.0.1:9/v1")) as url:
        _error(_post(url), 502)


def test_a_server_error_is_retried_and_then_answered(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.fail_times = 2
    with running_gateway(_route(upstream_url)) as url:
        response = _post(url)
    assert response.status_code == 200
    assert len(upstream.requests) == 3


def test_persistent_server_errors_are_a_502(upstream: UpstreamScript, upstream_url: str) -> None:
    upstream.status = 500
    with running_gateway(_route(upstream_url)) as url:
        _error(_post(url), 502)
    assert len(upstream.requests) == 3


def test_a_short_retry_after_is_waited_out_and_retried(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.fail_status, upstream.fail_times, upstream.headers = 429, 1, {"retry-after": "1"}
    with running_gateway(_route(upstream_url)) as url:
        started = time.monotonic()
        response = _post(url)
    assert response.status_code == 200
    assert time.monotonic() - started >= 1.0


def test_a_long_retry_after_goes_back_to_the_client(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.status, upstream.headers = 429, {"retry-after": "120"}
    with running_gateway(_route(upstream_url)) as url:
        response = _post(url)
    _error(response, 429)
    assert response.headers["retry-after"] == "120"
    assert len(upstream.requests) == 1


def test_malformed_json_is_a_502(upstream: UpstreamScript, upstream_url: str) -> None:
    upstream.malformed = True
    with running_gateway(_route(upstream_url)) as url:
        _error(_post(url), 502)


def test_no_first_byte_in_time_is_a_504(upstream: UpstreamScript, upstream_url: str) -> None:
    upstream.delay_s = 3
    config = _route(upstream_url, first_byte_timeout_s=0.3, retry={"attempts": 1})
    with running_gateway(config) as url:
        started = time.monotonic()
        _error(_post(url), 504)
    assert time.monotonic() - started < 2.5


def test_a_stream_cut_midway_ends_in_an_sse_error_event(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.stream_fault = "cut"
    with running_gateway(_route(upstream_url)) as url:
        response = _post(url, stream=True)
    assert response.status_code == 200  # headers were sent before the cut
    assert '"error"' in response.text and "broke off" in response.text
    assert "[DONE]" not in response.text


def test_a_stream_stalling_between_chunks_ends_in_an_sse_error_event(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.stream_fault, upstream.stall_s = "stall", 3
    with running_gateway(_route(upstream_url, idle_timeout_s=0.3)) as url:
        started = time.monotonic()
        response = _post(url, stream=True)
    assert '"error"' in response.text and "timeout_error" in response.text
    assert time.monotonic() - started < 2.5


def test_a_body_cut_short_is_retried_and_then_answered() -> None:
    script = RawScript(faults=["close"])
    with raw_upstream(script) as upstream_url, running_gateway(_route(upstream_url)) as url:
        completion = client(url).chat.completions.create(model="gpt-test", messages=HELLO)
    assert completion.choices[0].message.content == script.reply
    assert len(script.requests) == 2


def test_a_body_cut_short_every_time_is_a_502_after_retries() -> None:
    script = RawScript(fault="close")
    with raw_upstream(script) as upstream_url, running_gateway(_route(upstream_url)) as url:
        _error(_post(url), 502)
    assert len(script.requests) == 3


def test_a_body_stalling_midway_is_a_504() -> None:
    script = RawScript(fault="stall", stall_s=5)
    with raw_upstream(script) as upstream_url:
        config = _route(upstream_url, idle_timeout_s=0.3, retry={"attempts": 2, "backoff_s": 0})
        with running_gateway(config) as url:
            started = time.monotonic()
            _error(_post(url), 504)
            elapsed = time.monotonic() - started
    assert len(script.requests) == 2
    assert elapsed < 2.5


def test_bodies_cut_short_open_the_circuit() -> None:
    script = RawScript(fault="close")
    with raw_upstream(script) as upstream_url:
        config = _route(
            upstream_url, retry={"attempts": 1}, breaker={"failures": 2, "reset_after_s": 60}
        )
        with running_gateway(config) as url:
            statuses = [_post(url).status_code for _ in range(2)]
            opened = _post(url)
    assert statuses == [502, 502]
    assert _error(opened, 503)["code"] == "circuit_open"
    assert len(script.requests) == 2


@pytest.mark.parametrize(("fault", "status"), [("close", 502), ("stall", 504)])
def test_an_upstream_model_list_broken_off_midway_is_a_clean_error(
    fault: Literal["close", "stall"], status: int
) -> None:
    script = RawScript(fault=fault, stall_s=5)
    with raw_upstream(script) as upstream_url:
        backend = {"kind": "openai", "model": "*", "api_base": upstream_url}
        with running_gateway({"default_backend": backend | {"idle_timeout_s": 0.3}}) as url:
            response = httpx.get(f"{url}/v1/models", timeout=30)
    _error(response, status)


@pytest.mark.parametrize("stream", [False, True])
def test_the_first_byte_timeout_is_not_cut_short_by_the_idle_timeout(
    upstream: UpstreamScript, upstream_url: str, stream: bool
) -> None:
    upstream.delay_s = 1.0
    config = _route(upstream_url, first_byte_timeout_s=5, idle_timeout_s=0.3, retry={"attempts": 1})
    with running_gateway(config) as url:
        response = _post(url, stream=stream)
    assert response.status_code == 200, response.text
    assert upstream.reply.split()[0] in response.text and "error" not in response.text


def test_a_hung_upstream_holds_the_client_for_attempts_times_the_first_byte_timeout(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.delay_s = 30
    config = _route(upstream_url, first_byte_timeout_s=0.5, idle_timeout_s=10)
    with running_gateway(config) as url:
        started = time.monotonic()
        _error(_post(url), 504)
        elapsed = time.monotonic() - started
    assert len(upstream.requests) == 3
    assert 1.5 <= elapsed < 3.5


def test_no_retry_starts_once_the_retry_budget_is_spent(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    # A hung upstream held a non-stream client attempts x first_byte_timeout_s (361 s
    # with the defaults); past the budget the first timeout is the answer.
    upstream.delay_s = 30
    retry = FAST_RETRY | {"budget_s": 0.3}
    config = _route(upstream_url, first_byte_timeout_s=0.5, idle_timeout_s=10, retry=retry)
    with running_gateway(config) as url:
        started = time.monotonic()
        _error(_post(url), 504)
        elapsed = time.monotonic() - started
    assert len(upstream.requests) == 1
    assert elapsed < 1.5


def _trickling(upstream: UpstreamScript) -> None:
    """Two hundred chunks, each well within the idle timeout: 20 s in all."""
    upstream.reply, upstream.chunk_delay_s = " ".join(["word"] * 200), 0.1


def test_a_stream_trickling_under_the_idle_timeout_is_ended_at_its_deadline(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    _trickling(upstream)
    config = _route(upstream_url, idle_timeout_s=0.5, stream_deadline_s=1.0)
    received: list[str] = []
    with running_gateway(config) as url:
        started = time.monotonic()
        stream = client(url).chat.completions.create(model="gpt-test", messages=HELLO, stream=True)
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                received += [choice.delta.content or "" for choice in chunk.choices]
        elapsed = time.monotonic() - started
    assert "".join(received).startswith("word word")  # streaming had begun
    assert "deadline" in caught.value.message
    assert 1.0 <= elapsed < 2.5


def test_a_proxied_stream_trickling_under_the_idle_timeout_is_cut_at_its_deadline(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    _trickling(upstream)
    config = _route(upstream_url, idle_timeout_s=0.5, stream_deadline_s=1.0)
    config["passthrough"] = ["audio"]  # a forwarded stream: speech, not chat
    body = {"model": "gpt-test", "input": "Hi", "voice": "alloy"}
    received = b""
    with running_gateway(config) as url:
        started = time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError):  # the body ends unfinished, not "complete"
            with httpx.stream("POST", f"{url}/v1/audio/speech", json=body, timeout=30) as response:
                for piece in response.iter_bytes():
                    received += piece
        elapsed = time.monotonic() - started
    assert b"word" in received and len(received) < len(upstream.reply)
    assert elapsed < 2.5


def test_a_cut_stream_behind_a_post_call_stage_is_a_plain_502(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.stream_fault = "cut"
    config = _route(upstream_url)
    config |= {
        "engines": {"small": {"kind": "remote", "api_base": "http://127.0.0.1:9/v1", "model": "m"}},
        "stages": {"aligner": {"kind": "aligner", "engine": "small"}},
        "pipeline": ["aligner"],
    }
    with running_gateway(config, {"small": ScriptedEngine([])}) as url:
        _error(_post(url, stream=True), 502)


def test_the_circuit_opens_after_repeated_failures_and_probes_later(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.status = 500
    config = _route(
        upstream_url, retry={"attempts": 1}, breaker={"failures": 3, "reset_after_s": 1}
    )
    with running_gateway(config) as url:
        for _ in range(3):
            _error(_post(url), 502)
        opened = _post(url)
        calls_while_open = len(upstream.requests)
        upstream.status = 200
        time.sleep(1.1)
        probe = _post(url)
    assert _error(opened, 503)["code"] == "circuit_open"
    assert "retry-after" in opened.headers
    assert calls_while_open == 3
    assert probe.status_code == 200


def test_a_failing_model_falls_back_to_the_next(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    primary = upstream_route("gpt-test", "http://127.0.0.1:9/v1", retry={"attempts": 1})
    primary["fallbacks"] = ["backup"]
    config = {"models": [primary, upstream_route("backup", upstream_url)]}
    with running_gateway(config) as url:
        completion = client(url).chat.completions.create(model="gpt-test", messages=HELLO)
    assert completion.choices[0].message.content == upstream.reply


@pytest.mark.parametrize("policy", ["open", "closed"])
def test_a_stage_engine_answering_garbage_follows_the_policy(
    upstream: UpstreamScript, upstream_url: str, policy: str
) -> None:
    """The stage's small-model server returns malformed JSON (the upstream plays it)."""
    garbage = UpstreamScript(malformed=True)
    with serve_in_thread(create_upstream(garbage)) as small_url:
        config = _route(upstream_url) | {
            "engines": {"small": {"kind": "remote", "api_base": f"{small_url}/v1", "model": "m"}},
            "stages": {"aligner": {"kind": "aligner", "engine": "small", "on_failure": policy}},
            "pipeline": ["aligner"],
        }
        engine = RemoteEngine.from_config(
            RemoteEngineConfig.model_validate(config["engines"]["small"])
        )
        with running_gateway(config, {"small": engine}) as url:
            streamed = _post(url, stream=True)
            plain = _post(url)
    for response in (streamed, plain):
        if policy == "open":
            assert response.status_code == 200 and upstream.reply.split()[0] in response.text
        else:
            _error(response, 503)
            assert upstream.reply.split()[0] not in response.text


def test_an_upstream_that_never_accepts_is_a_connect_timeout_504() -> None:
    """A listening socket with a full backlog that never accepts: SYNs go unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    route = _route(f"http://127.0.0.1:{port}/v1", connect_timeout_s=0.3, retry={"attempts": 1})
    try:
        with running_gateway(route) as url:
            started = time.monotonic()
            _error(_post(url), 504)
            assert time.monotonic() - started < 3
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
