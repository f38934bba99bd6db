"""A chat request as the stages see it, and the stages' rewrites put back into the request."""

from __future__ import annotations

from typing import Any

from gateway.pipeline.stage import StageInput, StageMessage
from gateway.protocol import ChatCompletionRequest


def stage_input(request: ChatCompletionRequest) -> StageInput:
    """The request's messages as plain text, with its response format, for the stages."""
    messages = [StageMessage(role=m.role, content=m.text()) for m in request.messages]
    response_format = (request.model_extra or {}).get("response_format")
    return StageInput(
        model=request.model,
        original=messages,
        messages=list(messages),
        response_format=response_format if isinstance(response_format, dict) else None,
    )


def with_messages(request: ChatCompletionRequest, data: StageInput) -> ChatCompletionRequest:
    """The request as the backend should see it, with stage rewrites applied in place."""
    if data.messages == data.original:
        return request
    messages = [m.model_copy() for m in request.messages]
    for message, before, after in zip(messages, data.original, data.messages, strict=True):
        if after.content != before.content:
            message.content = _with_text(message.content, after.content)
    return request.model_copy(update={"messages": messages})


def _with_text(
    content: str | list[dict[str, Any]] | None, text: str | None
) -> str | list[dict[str, Any]] | None:
    """``content`` with its text replaced; images, audio and other parts stay where they were.

    Stages see a message's text parts joined into one string, so the rewrite takes the
    first text part's place and the other text parts go.
    """
    if not isinstance(content, list) or text is None:
        return text
    parts: list[dict[str, Any]] = []
    placed = False
    for part in content:
        if part.get("type") != "text":
            parts.append(part)
        elif not placed:
            parts.append({**part, "text": text})
            placed = True
    return parts
