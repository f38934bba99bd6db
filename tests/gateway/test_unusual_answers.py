"""Backend answers of unusual shape around a post-call stage."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.canned_upstream import CannedAnswers, canned_server, chunk, completion
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.scripted_engine import ScriptedEngine

USAGE = {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}


def _config(upstream_url: str, on_failure: str = "closed") -> dict[str, Any]:
    return {
        "engines": {"small": {"kind": "remote", "api_base": "http://127.0.0.1:9/v1", "model": "m"}},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {"aligner": {"kind": "aligner", "engine": "small", "on_failure": on_failure}},
        "pipeline": ["aligner"],
    }


def test_no_choices_pass_through_with_the_stage_recorded_as_skipped() -> None:
    answers = CannedAnswers(completion=completion())
    with canned_server(answers) as upstream_url:
        engine = ScriptedEngine([])
        with running_gateway(_config(upstream_url), {"small": engine}) as url:
            raw = client(url).chat.completions.with_raw_response.create(
                model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
            )
    assert raw.status_code == 200
    assert raw.parse().choices == []
    assert raw.headers["x-aligngate-stages"] == "aligner=skipped"
    assert engine.requests == []


@pytest.mark.parametrize("with_usage", [False, True])
def test_a_stream_without_choices_passes_through_with_the_stage_skipped(
    with_usage: bool,
) -> None:
    usage_chunk = {**chunk({}), "choices": [], "usage": USAGE}
    answers = CannedAnswers(chunks=lambda: [usage_chunk] if with_usage else [])
    with canned_server(answers) as upstream_url:
        with running_gateway(_config(upstream_url), {"small": ScriptedEngine([])}) as url:
            response = httpx.post(
                f"{url}/v1/chat/completions",
                json={
                    "model": "gpt-test",
                    "messages": [{"role": "user", "content": "Hi"}],
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
                timeout=30,
            )
    assert response.status_code == 200
    assert response.headers["x-aligngate-stages"] == "aligner=skipped"
    assert response.text.rstrip().endswith("data: [DONE]")
    assert ('"usage"' in response.text) is with_usage
