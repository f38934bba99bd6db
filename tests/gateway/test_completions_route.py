"""``/v1/completions`` (legacy text) runs the tenant's stages, answered by the chat backend.

Through the official client over real HTTP; the upstream and the Aligner's engine are
real loopback servers.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.support.aligned import CORRECTION, KEY, ORIGINAL, aligned_gateway
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.upstream import UpstreamScript


@pytest.fixture(autouse=True)
def _original_reply(upstream: UpstreamScript) -> None:
    upstream.reply = ORIGINAL


def test_a_completion_is_the_aligned_answer_to_the_prompt(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with aligned_gateway(upstream_url) as url:
        raw = client(url, api_key=KEY).completions.with_raw_response.create(
            model="gpt-test", prompt="Say something.", max_tokens=20
        )
    result = raw.parse()
    assert raw.headers["x-aligngate-stages"] == "aligner=corrected"
    assert result.object == "text_completion"
    assert result.choices[0].text == CORRECTION
    assert result.usage is not None and result.usage.total_tokens == 12
    [sent] = upstream.requests
    assert sent["messages"] == [{"role": "user", "content": "Say something."}]
    assert sent["max_tokens"] == 20


def test_a_streamed_completion_sends_only_the_aligned_answer(upstream_url: str) -> None:
    with aligned_gateway(upstream_url) as url:
        stream = client(url, api_key=KEY).completions.create(
            model="gpt-test", prompt="Say something.", stream=True
        )
        chunks = list(stream)
    text = "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)
    assert text == CORRECTION
    assert all(chunk.object == "text_completion" for chunk in chunks)


def test_a_list_of_prompts_gets_one_aligned_choice_each(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with aligned_gateway(upstream_url) as url:
        result = client(url, api_key=KEY).completions.create(
            model="gpt-test", prompt=["First?", "Second?"]
        )
    assert [(c.index, c.text) for c in result.choices] == [(0, CORRECTION), (1, CORRECTION)]
    assert [r["messages"][0]["content"] for r in upstream.requests] == ["First?", "Second?"]
    assert result.usage is not None and result.usage.total_tokens == 24


@pytest.mark.parametrize("stream", [False, True])
def test_a_fail_closed_tenant_whose_aligner_is_down_gets_no_generated_text(
    upstream_url: str, stream: bool
) -> None:
    with aligned_gateway(upstream_url, aligner="down") as url:
        with pytest.raises(openai.APIStatusError) as refused:
            result = client(url, api_key=KEY).completions.create(
                model="gpt-test", prompt="Say something.", stream=stream
            )
            list(result) if stream else None  # type: ignore[call-overload]
    assert refused.value.status_code == 503
    assert refused.value.code == "stage_failed"
    assert "UNALIGNED" not in refused.value.response.text


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": "x", "echo": True}, None),
        ({"prompt": "x", "best_of": 3}, None),
        ({"prompt": ["a", "b"], "stream": True}, "prompt"),
        ({"prompt": []}, "prompt"),
    ],
)
def test_what_a_chat_call_cannot_do_is_a_clear_400_and_never_sent(
    upstream: UpstreamScript, upstream_url: str, body: dict[str, object], param: str | None
) -> None:
    with aligned_gateway(upstream_url) as url:
        response = httpx.post(
            f"{url}/v1/completions",
            json={"model": "gpt-test", **body},
            headers={"authorization": f"Bearer {KEY}"},
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert param is None or (error["param"] or "").startswith(param)
    assert upstream.requests == []


def test_a_stream_cut_after_its_first_byte_raises_in_the_client(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.stream_fault = "cut"
    with running_gateway({"models": [upstream_route("gpt-test", upstream_url)]}) as url:
        stream = client(url).completions.create(model="gpt-test", prompt="Hi", stream=True)
        with pytest.raises(openai.APIError):
            list(stream)
