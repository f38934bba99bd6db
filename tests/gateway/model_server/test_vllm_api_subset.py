"""``aligngate models serve`` and real ``vllm serve`` answer the gateway's API subset alike.

The subset is what the remote engine and an operator use: the model list (base plus
one card per adapter), completions and chat (plain and streamed), an adapter chosen by
model name, stop strings, and OpenAI's error envelope with the right status. Where the
two servers differ only in the values of an error's ``type`` and ``code`` the test
prints them: the remote engine treats every non-2xx answer alike.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from gateway.engines.base import ChatTurn, GenerationRequest
from gateway.engines.remote import RemoteEngine
from tests.support.engines import drain
from tests.support.vllm_server import SERVED_NAME

pytestmark = pytest.mark.model

SERVERS = ["vllm_url", "adapter_server_url"]
ERROR_KEYS = {"message", "type", "param", "code"}
CHAT = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> str:
    """Each server's base URL (with /v1) in turn."""
    url: str = request.getfixturevalue(request.param)
    return url


def _post(url: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/{path}", json=body, timeout=600)


def test_the_model_list_has_the_base_and_each_adapter_as_its_child(server: str) -> None:
    response = httpx.get(f"{server}/models", timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    cards = {card["id"]: card for card in body["data"]}
    assert {name: card.get("parent") for name, card in cards.items()} == {
        SERVED_NAME: None,
        "bpo": SERVED_NAME,
        "aligner": SERVED_NAME,
    }
    assert all(card["object"] == "model" for card in cards.values())


@pytest.mark.parametrize("model", [SERVED_NAME, "bpo", "aligner"])
def test_completions_and_chat_answer_for_the_base_and_each_adapter(server: str, model: str) -> None:
    raw = _post(
        server,
        "completions",
        {"model": model, "prompt": "1, 2, 3,", "max_tokens": 6, "temperature": 0, "stop": ["7"]},
    )
    chat = _post(
        server,
        "chat/completions",
        {"model": model, "messages": CHAT, "max_tokens": 6, "temperature": 0},
    )
    assert (raw.status_code, chat.status_code) == (200, 200), (raw.text, chat.text)
    completion, reply = raw.json(), chat.json()
    assert completion["object"] == "text_completion" and completion["model"] == model
    assert "7" not in completion["choices"][0]["text"]
    assert completion["usage"]["completion_tokens"] <= 6
    assert reply["object"] == "chat.completion" and reply["model"] == model
    assert reply["choices"][0]["message"]["role"] == "assistant"
    assert reply["choices"][0]["finish_reason"] in {"stop", "length"}


def test_a_streamed_chat_ends_with_done_and_says_what_the_whole_answer_says(server: str) -> None:
    body = {"model": "aligner", "messages": CHAT, "max_tokens": 8, "temperature": 0}
    whole = _post(server, "chat/completions", body).json()["choices"][0]["message"]["content"]
    with httpx.stream(
        "POST", f"{server}/chat/completions", json={**body, "stream": True}, timeout=600
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        data = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    pieces = [json.loads(event)["choices"] for event in data[:-1]]
    text = "".join(c[0]["delta"].get("content") or "" for c in pieces if c)
    assert text == whole


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "gpt-9", "prompt": "x", "max_tokens": 1}, 404, "model"),
        ({"model": SERVED_NAME, "prompt": "x", "max_tokens": -1}, 400, None),
    ],
    ids=["unknown-model", "bad-max-tokens"],
)
def test_errors_are_openai_envelopes_with_the_right_status(
    server: str, body: dict[str, Any], status: int, param: str | None
) -> None:
    response = _post(server, "completions", body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= ERROR_KEYS and error["message"]
    if param is not None:
        assert error["param"] == param
    print(f"\n{server} {status}: type={error['type']!r} code={error['code']!r}")


def test_the_remote_engine_generates_and_streams_with_an_adapter(server: str) -> None:
    engine = RemoteEngine(server, SERVED_NAME, timeout_s=600)
    chat = GenerationRequest(
        messages=[ChatTurn(role="user", content="Say hi")], adapter="bpo", max_tokens=8
    )

    async def both() -> tuple[str, str]:
        try:
            [result] = await engine.generate([chat])
            pieces, _ = await drain(engine.stream(chat))
            return result.text, "".join(pieces)
        finally:
            await engine.aclose()

    text, streamed = asyncio.run(both())
    assert text and streamed == text
