"""One request's span tree over real HTTP: request span, stage and attempt children, GenAI
attributes, and the trace context the upstream receives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import openai
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from gateway.engines.config import RemoteEngineConfig
from gateway.engines.registry import build_engine
from tests.gateway.tracing.conftest import Spans
from tests.support.canned_upstream import CannedAnswers, canned_server, completion
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.upstream import UpstreamScript

CORRECTION = "A corrected answer from the loopback Aligner engine."


@contextmanager
def _staged_gateway(upstream_url: str, spans: Spans, **extra: Any) -> Iterator[str]:
    """A gateway with BPO and the Aligner on a loopback engine, traced into ``spans``."""
    with ExitStack() as stack:
        answers = CannedAnswers(completion=completion({"role": "assistant", "content": CORRECTION}))
        engine_url = stack.enter_context(canned_server(answers))
        config = {
            "engines": {"small": {"kind": "remote", "api_base": engine_url, "model": "m"}},
            "models": [upstream_route("gpt-test", upstream_url)],
            "stages": {
                "bpo": {"kind": "bpo", "engine": "small", "timeout_s": 5},
                "aligner": {"kind": "aligner", "engine": "small", "timeout_s": 5},
            },
            "pipeline": ["bpo", "aligner"],
            **extra,
        }
        small = build_engine(RemoteEngineConfig(api_base=engine_url, model="m"))
        yield stack.enter_context(running_gateway(config, {"small": small}, tracer=spans.tracer))


def _hex(value: int, digits: int) -> str:
    return format(value, f"0{digits}x")


def _traceparent(span: ReadableSpan) -> str:
    """The traceparent naming ``span`` as the parent, up to its flags."""
    assert span.context is not None
    return f"00-{_hex(span.context.trace_id, 32)}-{_hex(span.context.span_id, 16)}"


def _sent(headers: dict[str, str]) -> str:
    """What a traceparent header says, up to its flags (sampled, and W3C's random bit)."""
    version, trace_id, parent_id, flags = headers["traceparent"].split("-")
    assert int(flags, 16) & 1, "the upstream must be told the trace is sampled"
    return f"{version}-{trace_id}-{parent_id}"


def test_a_request_is_one_span_with_stage_and_attempt_children(
    upstream: UpstreamScript, upstream_url: str, spans: Spans
) -> None:
    with _staged_gateway(upstream_url, spans) as url:
        answer = client(url).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "Explain tides"}]
        )
    assert answer.choices[0].message.content == CORRECTION
    request = spans.request("chat gpt-test")
    attributes = dict(request.attributes or {})
    assert request.kind is SpanKind.SERVER
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "gpt-test"
    assert attributes["gen_ai.response.model"] == "upstream-model"
    assert attributes["gen_ai.usage.input_tokens"] == 5
    assert attributes["gen_ai.usage.output_tokens"] == 7
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["aligngate.tenant"] == "open"
    assert attributes["aligngate.stages"] == "bpo=rewritten;aligner=corrected"
    children = spans.children(request)
    assert [c.name for c in children] == ["stage bpo", "chat upstream-model", "stage aligner"]
    bpo, attempt, aligner = children
    assert dict(bpo.attributes or {})["aligngate.stage.outcome"] == "rewritten"
    assert dict(bpo.attributes or {})["aligngate.stage.phase"] == "pre"
    assert dict(aligner.attributes or {})["aligngate.stage.outcome"] == "corrected"
    assert attempt.kind is SpanKind.CLIENT
    assert dict(attempt.attributes or {})["gen_ai.request.model"] == "upstream-model"
    assert dict(attempt.attributes or {})["server.address"] == "127.0.0.1"
    # The upstream is told its parent is the attempt, in the request's trace.
    assert _sent(upstream.request_headers[0]) == _traceparent(attempt)


def test_a_streamed_request_span_lasts_the_whole_stream(
    upstream: UpstreamScript, upstream_url: str, spans: Spans
) -> None:
    upstream.reply = "one two three four five"
    upstream.chunk_delay_s = 0.1
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, tracer=spans.tracer) as url:
        stream = client(url).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "Count"}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        request = spans.request("chat gpt-test")
    assert text == "one two three four five"
    attributes = dict(request.attributes or {})
    assert attributes["gen_ai.usage.output_tokens"] == 5
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["aligngate.stream"] is True
    assert request.start_time is not None and request.end_time is not None
    assert (request.end_time - request.start_time) / 1e9 >= 0.45  # five chunks, 0.1 s apart
    (attempt,) = spans.children(request)
    assert attempt.end_time is not None and attempt.end_time <= request.end_time
    assert _sent(upstream.request_headers[0]) == _traceparent(attempt)


def test_retries_and_fallbacks_are_separate_attempt_spans(
    upstream: UpstreamScript, upstream_url: str, spans: Spans
) -> None:
    upstream.fail_times = 1  # the first try fails with a 500, the retry answers
    dead = "http://127.0.0.1:9/v1"  # nothing listens: the primary never answers
    primary = upstream_route("gpt-test", dead, retry={"attempts": 1})
    config = {
        "models": [
            {**primary, "fallbacks": ["gpt-backup"]},
            upstream_route("gpt-backup", upstream_url, retry={"attempts": 2, "backoff_s": 0}),
        ]
    }
    with running_gateway(config, tracer=spans.tracer) as url:
        client(url).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
        )
    request = spans.request("chat gpt-test")
    attempts = spans.children(request)
    routes = [dict(a.attributes or {})["aligngate.route"] for a in attempts]
    assert routes == ["gpt-test", "gpt-backup", "gpt-backup"]
    statuses = [a.status.status_code for a in attempts]
    assert statuses == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert dict(attempts[1].attributes or {})["error.type"] == "BackendError"
    # Each try sent its own traceparent, naming its own attempt span.
    sent = [_sent(h) for h in upstream.request_headers]
    assert sent == [_traceparent(attempts[1]), _traceparent(attempts[2])]


def test_a_client_traceparent_is_continued(upstream_url: str, spans: Spans) -> None:
    client_trace, client_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, tracer=spans.tracer) as url:
        client(url).chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "Hi"}],
            extra_headers={"traceparent": f"00-{client_trace}-{client_span}-01"},
        )
    request = spans.request("chat gpt-test")
    assert request.context is not None and request.parent is not None
    assert _hex(request.context.trace_id, 32) == client_trace
    assert _hex(request.parent.span_id, 16) == client_span


def test_text_completions_and_responses_name_their_operation(
    upstream_url: str, spans: Spans
) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, tracer=spans.tracer) as url:
        client(url).completions.create(model="gpt-test", prompt="Say hi")
        client(url).responses.create(model="gpt-test", input="Say hi")
    legacy = spans.request("text_completion gpt-test")
    assert dict(legacy.attributes or {})["gen_ai.operation.name"] == "text_completion"
    assert dict(spans.request("chat gpt-test").attributes or {})["aligngate.route"] == "responses"


def test_a_failed_fail_closed_stage_marks_its_span_and_the_request(
    upstream_url: str, spans: Spans
) -> None:
    config = {
        "engines": {"small": {"kind": "remote", "api_base": "http://127.0.0.1:9/v1", "model": "m"}},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {"bpo": {"kind": "bpo", "engine": "small", "on_failure": "closed"}},
        "pipeline": ["bpo"],
    }
    small = build_engine(RemoteEngineConfig(api_base="http://127.0.0.1:9/v1", model="m"))
    with running_gateway(config, {"small": small}, tracer=spans.tracer) as url:
        try:
            client(url).chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
            )
        except openai.APIStatusError as exc:
            assert exc.status_code == 503
        else:
            raise AssertionError("a fail-closed stage that failed must refuse")
    request = spans.request("chat gpt-test")
    assert request.status.status_code is StatusCode.ERROR
    assert dict(request.attributes or {})["http.response.status_code"] == 503
    (stage,) = spans.children(request)
    assert stage.name == "stage bpo"
    assert stage.status.status_code is StatusCode.ERROR
    assert dict(stage.attributes or {})["aligngate.stage.outcome"] == "failed"
