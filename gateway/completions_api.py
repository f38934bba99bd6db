"""Legacy text completions answered by the chat backend: the request in, the answer out.

Each prompt is one chat request with the prompt as its user message, so it runs the
tenant's stages like any chat request; several prompts are several such requests,
their choices numbered as OpenAI numbers them (prompt by prompt, ``n`` each).
"""

from __future__ import annotations

import time

from pydantic import ValidationError

from gateway.completions_protocol import Completion, CompletionChoice, CompletionRequest
from gateway.errors import InvalidRequest
from gateway.handler import Completed
from gateway.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    Usage,
)


def to_chat(request: CompletionRequest, prompt: str) -> ChatCompletionRequest:
    """One prompt of ``request`` as a chat request; other fields go on as they came."""
    body = request.model_dump(exclude_unset=True, exclude={"prompt"})
    body["messages"] = [{"role": "user", "content": prompt}]
    try:
        return ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidRequest(f"{where}: {first['msg']}", param=where) from exc


def merged(answers: list[Completed]) -> Completed:
    """The answers to several prompts as one, choices numbered prompt by prompt."""
    choices: list[Choice] = []
    usage = Usage()
    for answer in answers:
        offset = len(choices)
        choices += [
            c.model_copy(update={"index": offset + c.index}) for c in answer.completion.choices
        ]
        if answer.completion.usage is not None:
            usage.prompt_tokens += answer.completion.usage.prompt_tokens
            usage.completion_tokens += answer.completion.usage.completion_tokens
            usage.total_tokens += answer.completion.usage.total_tokens
    headers = {**answers[-1].headers}
    stages = [a.headers["x-aligngate-stages"] for a in answers if "x-aligngate-stages" in a.headers]
    if stages:
        headers["x-aligngate-stages"] = ", ".join(stages)
    completion = answers[0].completion.model_copy(update={"choices": choices, "usage": usage})
    return Completed(completion=completion, headers=headers)


def from_chat(completion: ChatCompletion) -> Completion:
    """A chat answer as a text completion."""
    return Completion(
        id=completion.id.replace("chatcmpl-", "cmpl-", 1),
        created=completion.created or int(time.time()),
        model=completion.model,
        choices=[
            CompletionChoice(
                index=choice.index,
                text=choice.message.text() or choice.message.refusal or "",
                finish_reason=choice.finish_reason,
            )
            for choice in completion.choices
        ],
        usage=completion.usage or Usage(),
    )


def chunk_from_chat(chunk: ChatCompletionChunk) -> Completion:
    """One chat stream chunk as a legacy stream chunk (the same ``text_completion`` object)."""
    wire = Completion(
        id=chunk.id.replace("chatcmpl-", "cmpl-", 1),
        created=chunk.created,
        model=chunk.model,
        choices=[
            CompletionChoice(
                index=choice.index,
                text=choice.delta.content or choice.delta.refusal or "",
                finish_reason=choice.finish_reason,
            )
            for choice in chunk.choices
        ],
    )
    if chunk.usage is not None:
        wire.usage = chunk.usage
    return wire
