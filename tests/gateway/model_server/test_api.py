"""The model server's OpenAI wire contract, on a scripted engine."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from gateway.engines.base import EngineError, GenerationRequest
from gateway.model_server import create_model_server
from tests.support.scripted_engine import ScriptedEngine
from tests.support.servers import serve_in_thread

HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def echo(request: GenerationRequest) -> str:
    if request.messages is not None:
        return f"{request.adapter}: {request.messages[-1].content}"
    return f"{request.adapter}: {request.prompt}"


@pytest.fixture
def engine() -> ScriptedEngine:
    return ScriptedEngine([echo], repeat=True)


@pytest.fixture
async def client(engine: ScriptedEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_model_server(engine, "smollm2", ["bpo", "aligner"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
        yield client


async def test_models_lists_the_base_model_and_each_adapter(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models")
    cards = response.json()["data"]
    assert [(c["id"], c["parent"]) for c in cards] == [
        ("smollm2", None),
        ("bpo", "smollm2"),
        ("aligner", "smollm2"),
    ]


async def test_the_model_field_selects_the_adapter(
    client: httpx.AsyncClient, engine: ScriptedEngine
) -> None:
    body = {"model": "bpo", "prompt": "hello", "max_tokens": 5, "temperature": 0, "stop": "\n"}
    response = await client.post("/v1/completions", json=body)
    assert response.status_code == 200
    assert response.json()["choices"][0]["text"] == "bpo: hello"
    sent = engine.requests[0]
    assert (sent.adapter, sent.max_tokens, sent.temperature, sent.stop) == ("bpo", 5, 0, ["\n"])


async def test_a_list_of_prompts_gives_one_choice_each(client: httpx.AsyncClient) -> None:
    body = {"model": "smollm2", "prompt": ["a", "b"]}
    choices = (await client.post("/v1/completions", json=body)).json()["choices"]
    assert [(c["index"], c["text"]) for c in choices] == [(0, "None: a"), (1, "None: b")]


async def test_chat_returns_an_assistant_message_for_the_base_model(
    client: httpx.AsyncClient,
) -> None:
    body = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}]}
    response = (await client.post("/v1/chat/completions", json=body)).json()
    assert response["object"] == "chat.completion"
    assert response["choices"][0]["message"] == {"role": "assistant", "content": "None: hi"}


async def test_chat_streams_server_sent_events_ending_with_done(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "model": "aligner",
        "stream": True,
        "messages": [{"role": "user", "content": "two words"}],
    }
    response = await client.post("/v1/chat/completions", json=body)
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text.strip() == "aligner: two words"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_an_unknown_model_is_a_404_in_openai_error_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/completions", json={"model": "gpt-9", "prompt": "x"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert set(error) == {"message", "type", "param", "code"}


async def test_an_invalid_request_is_a_400_in_openai_error_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/chat/completions", json={"model": "smollm2"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "messages" in response.json()["error"]["message"]


async def test_an_engine_failure_is_a_500_server_error() -> None:
    app = create_model_server(ScriptedEngine([EngineError("model crashed")]), "smollm2")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
        response = await client.post("/v1/completions", json={"model": "smollm2", "prompt": "x"})
    assert response.status_code == 500
    assert response.json()["error"] == {
        "message": "model crashed",
        "type": "server_error",
        "param": None,
        "code": None,
    }


async def test_completions_stream_text_pieces_ending_with_done(client: httpx.AsyncClient) -> None:
    body = {"model": "smollm2", "prompt": "a b", "stream": True}
    response = await client.post("/v1/completions", json=body)
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"text_completion"}
    assert "".join(c["choices"][0]["text"] for c in chunks).strip() == "None: a b"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"n": 2}, "n"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
            "messages.0.content",
        ),
        (
            {"messages": [{"role": "tool", "content": "42", "tool_call_id": "c1"}]},
            "messages.0.role",
        ),
        ({"messages": [{"role": "user", "content": None}]}, "messages.0.content"),
        ({"top_p": 0}, "top_p"),
    ],
    ids=["two-choices", "content-parts", "tool-role", "no-content", "top-p-zero"],
)
async def test_what_the_server_cannot_honour_is_a_400_naming_the_field(
    client: httpx.AsyncClient, engine: ScriptedEngine, change: dict[str, object], param: str
) -> None:
    body = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], **change}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert engine.requests == []


async def test_more_than_one_completion_choice_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/completions", json={"model": "smollm2", "prompt": "x", "n": 3}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "n"


async def test_a_validation_error_names_its_param_as_the_gateway_does(
    client: httpx.AsyncClient,
) -> None:
    body = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], "temperature": 9}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("temperature", "invalid_request")


async def test_an_unknown_route_is_a_404_in_openai_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/embeddings", json={"model": "smollm2", "input": "x"})
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


async def test_an_engine_failure_mid_stream_is_an_error_event_before_done() -> None:
    app = create_model_server(ScriptedEngine([EngineError("model crashed")]), "smollm2")
    transport = httpx.ASGITransport(app=app)
    body = {"model": "smollm2", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
        response = await client.post("/v1/chat/completions", json=body)
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert (error["message"], error["type"]) == ("model crashed", "server_error")


async def test_model_cards_say_what_each_model_is(client: httpx.AsyncClient) -> None:
    cards = (await client.get("/v1/models")).json()["data"]
    assert {k for card in cards for k in card} == {
        "id",
        "object",
        "created",
        "owned_by",
        "root",
        "parent",
    }
    assert [c["root"] for c in cards] == ["smollm2", "bpo", "aligner"]


def test_the_official_client_reads_every_route_of_the_server() -> None:
    engine = ScriptedEngine(["a completion", "a chat answer", "a streamed answer"])
    with serve_in_thread(create_model_server(engine, "smollm2", ["bpo"])) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        models = client.models.list().data
        completion = client.completions.create(model="bpo", prompt="x", max_tokens=3)
        chat = client.chat.completions.create(model="smollm2", messages=HI)
        stream = client.chat.completions.create(model="smollm2", messages=HI, stream=True)
        pieces = [c.choices[0].delta.content or "" for c in stream]
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(model="gpt-9", messages=HI)
    assert [(m.id, m.model_extra) for m in models] == [
        ("smollm2", {"root": "smollm2", "parent": None}),
        ("bpo", {"root": "bpo", "parent": "smollm2"}),
    ]
    assert completion.choices[0].text == "a completion"
    assert completion.usage is not None and completion.usage.completion_tokens == 2
    assert chat.choices[0].message.content == "a chat answer"
    assert "".join(pieces).strip() == "a streamed answer"
    assert missing.value.code == "model_not_found"
