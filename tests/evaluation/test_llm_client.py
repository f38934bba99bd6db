"""The offline tools' one chat client, both ways, against a real chat server on loopback."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from evaluation.llm_client import ChatClient, ChatEndpoint, LlmError
from tests.evaluation.fakes import ChatScript


def _echo(messages: list[dict[str, Any]], headers: dict[str, str]) -> str:
    return "" if messages[-1]["content"] == "say nothing" else f"re: {messages[-1]['content']}"


@pytest.fixture
def script() -> ChatScript:
    return ChatScript(reply=_echo)


@pytest.mark.parametrize("transport", ["http", "litellm"])
async def test_both_transports_send_the_same_chat_request(
    endpoint_url: str, script: ChatScript, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_KEY", "sk-chat")
    model = "judge" if transport == "http" else "openai/judge"
    endpoint = ChatEndpoint.model_validate(
        {
            "model": model,
            "transport": transport,
            "api_base": endpoint_url,
            "api_key_env": "CHAT_KEY",
        }
    )
    reply = await ChatClient(endpoint).ask("hello", system="be brief")
    assert reply == "re: hello"
    [body] = script.requests
    assert body["model"] == "judge" and body["temperature"] == 0.0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert script.headers[0]["authorization"] == "Bearer sk-chat"


async def test_the_http_way_works_without_litellm(
    endpoint_url: str, script: ChatScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "litellm", None)  # importing it now fails
    endpoint = ChatEndpoint(
        model="m", transport="http", api_base=endpoint_url, headers={"x-arm": "b"}
    )
    client = ChatClient(endpoint)
    async with client.session():
        replies = await asyncio.gather(client.ask("one"), client.ask("two"))
    assert replies == ["re: one", "re: two"]
    assert all(h["x-arm"] == "b" for h in script.headers)
    with pytest.raises(ImportError):
        await ChatClient(endpoint.model_copy(update={"transport": "litellm"})).ask("one")


async def test_http_retries_a_busy_server_then_gives_up_with_the_status(
    endpoint_url: str, script: ChatScript
) -> None:
    endpoint = ChatEndpoint(model="m", transport="http", api_base=endpoint_url, retries=2)
    script.fail_first = 2
    assert await ChatClient(endpoint).ask("again") == "re: again"
    script.fail_first = 10
    with pytest.raises(LlmError, match="run-a: HTTP 503"):
        await ChatClient(endpoint.model_copy(update={"label": "run-a"})).ask("again")


@pytest.mark.parametrize("transport", ["http", "litellm"])
async def test_an_empty_reply_is_an_error_only_when_text_is_required(
    endpoint_url: str, transport: str
) -> None:
    model = "m" if transport == "http" else "openai/m"
    endpoint = ChatEndpoint.model_validate(
        {"model": model, "transport": transport, "api_base": endpoint_url}
    )
    assert await ChatClient(endpoint).ask("say nothing") == ""
    with pytest.raises(LlmError, match="returned no text"):
        await ChatClient(endpoint, require_text=True).ask("say nothing")


async def test_http_waits_as_long_as_a_rate_limited_server_asks_before_retrying(
    endpoint_url: str, script: ChatScript
) -> None:
    # The client's own first back-off is under 0.5 s: only Retry-After makes it wait 1 s.
    endpoint = ChatEndpoint(model="m", transport="http", api_base=endpoint_url, retries=1)
    script.fail_first, script.fail_status, script.retry_after = 1, 429, "1"

    assert await ChatClient(endpoint).ask("later") == "re: later"

    first, second = script.arrivals
    assert second - first >= 0.9, f"retried after {second - first:.3f} s, asked for 1 s"


async def test_a_client_error_is_not_retried_and_names_its_status(
    endpoint_url: str, script: ChatScript
) -> None:
    endpoint = ChatEndpoint(model="m", transport="http", api_base=endpoint_url, retries=3)
    script.fail_first, script.fail_status = 5, 400

    with pytest.raises(LlmError, match="HTTP 400"):
        await ChatClient(endpoint).ask("bad")

    assert len(script.requests) == 1


async def test_without_a_key_variable_no_key_is_sent_not_even_the_openai_one(
    endpoint_url: str, script: ChatScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-stay-home")
    endpoint = ChatEndpoint(model="m", transport="http", api_base=endpoint_url)

    assert await ChatClient(endpoint).ask("hi") == "re: hi"

    assert "authorization" not in script.headers[0]
