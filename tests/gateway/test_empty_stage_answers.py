"""A stage engine that answers 200 with no text has failed; it has not approved anything.

The stage engine is a real loopback server behind a ``kind: remote`` engine, answering
``content: null`` (or blank text) the way a broken or overloaded model server does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from gateway.engines.remote import RemoteEngine
from tests.support.canned_upstream import CannedAnswers, canned_server, completion
from tests.support.gateway import running_gateway, upstream_route
from tests.support.upstream import UpstreamScript

EMPTY_CONTENTS = [None, "", "  \n "]


def _config(upstream_url: str, engine_url: str, stage: str, on_failure: str) -> dict[str, Any]:
    return {
        "engines": {"small": {"kind": "remote", "api_base": engine_url, "model": "m"}},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {stage: {"kind": stage, "engine": "small", "on_failure": on_failure}},
        "pipeline": [stage],
    }


def _ask(url: str, stream: bool = False) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={
            "model": "gpt-test",
            "messages": [{"role": "user", "content": "Explain how tides work."}],
            "stream": stream,
        },
        timeout=30,
    )


@contextmanager
def _serve(upstream_url: str, content: str | None, stage: str, on_failure: str) -> Iterator[str]:
    """A gateway whose one stage runs on an engine server answering ``content``."""
    answers = CannedAnswers(completion=completion({"role": "assistant", "content": content}))
    with canned_server(answers) as engine_url:
        config = _config(upstream_url, engine_url, stage, on_failure)
        with running_gateway(config, {"small": RemoteEngine(engine_url, "m")}) as url:
            yield url


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("content", EMPTY_CONTENTS)
def test_an_empty_correction_under_fail_closed_is_a_503_without_the_answer(
    upstream: UpstreamScript, upstream_url: str, content: str | None, stream: bool
) -> None:
    upstream.reply = "UNALIGNED-SECRET answer"
    with _serve(upstream_url, content, "aligner", "closed") as url:
        response = _ask(url, stream)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "stage_failed"
    assert "UNALIGNED" not in response.text


def test_an_empty_correction_under_fail_open_is_recorded_as_a_failure(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with _serve(upstream_url, None, "aligner", "open") as url:
        response = _ask(url)
    assert response.status_code == 200
    assert response.headers["x-aligngate-stages"] == "aligner=failed"
    assert response.json()["choices"][0]["message"]["content"] == upstream.reply


@pytest.mark.parametrize("content", EMPTY_CONTENTS)
def test_an_empty_rewrite_under_fail_closed_is_a_503(
    upstream_url: str, content: str | None
) -> None:
    with _serve(upstream_url, content, "bpo", "closed") as url:
        response = _ask(url)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "stage_failed"


def test_an_empty_rewrite_under_fail_open_sends_the_original_prompt(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with _serve(upstream_url, None, "bpo", "open") as url:
        response = _ask(url)
    assert response.headers["x-aligngate-stages"] == "bpo=failed"
    assert upstream.requests[0]["messages"][0]["content"] == "Explain how tides work."
