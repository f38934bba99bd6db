"""The real model server process, driven by the official openai client."""

from __future__ import annotations

import openai
import pytest

pytestmark = pytest.mark.model


@pytest.fixture
def client(model_server_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=model_server_url, api_key="unused", max_retries=0)


def test_completions_return_text_and_usage(client: openai.OpenAI) -> None:
    response = client.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=6, temperature=0
    )
    assert response.choices[0].text
    assert response.usage is not None and response.usage.completion_tokens <= 6


def test_chat_answers_with_an_assistant_message(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=12,
        temperature=0,
    )
    assert response.choices[0].message.role == "assistant"
    assert "Paris" in (response.choices[0].message.content or "")


def test_chat_streaming_yields_the_same_answer(client: openai.OpenAI) -> None:
    question = [{"role": "user", "content": "Name a colour."}]
    whole = client.chat.completions.create(
        model="smollm2", messages=question, max_tokens=8, temperature=0
    )  # type: ignore[arg-type]
    stream = client.chat.completions.create(
        model="smollm2",
        messages=question,
        max_tokens=8,
        temperature=0,  # type: ignore[arg-type]
        stream=True,
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream]
    assert "".join(pieces) == whole.choices[0].message.content


def test_models_list_the_served_model(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["smollm2"]


def test_an_unknown_model_raises_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.completions.create(model="gpt-9", prompt="x", max_tokens=1)
    assert raised.value.code == "model_not_found"
