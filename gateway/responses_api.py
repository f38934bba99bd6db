"""The Responses API answered by the chat backend: the request in, the answer and its events out."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError

from gateway.errors import GatewayError, InvalidRequest
from gateway.protocol import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage
from gateway.responses_protocol import (
    InputMessage,
    OutputMessage,
    OutputRefusal,
    OutputText,
    Response,
    ResponsesRequest,
    ResponseUsage,
)
from gateway.sse import encode_event

# Why an answer stopped early, in this API's words.
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def to_chat(request: ResponsesRequest) -> ChatCompletionRequest:
    """The request as a chat request: ``instructions`` first, as a system message."""
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    if isinstance(request.input, str):
        messages.append({"role": "user", "content": request.input})
    else:
        messages += [_chat_message(item) for item in request.input]
    body: dict[str, Any] = {"model": request.model, "messages": messages, "stream": request.stream}
    for chat_name, value in (
        ("max_tokens", request.max_output_tokens),
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("user", request.user),
        ("response_format", _response_format(request.text)),
    ):
        if value is not None:
            body[chat_name] = value
    try:
        return ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidRequest(f"input: {where}: {first['msg']}", param="input") from exc


def _chat_message(item: InputMessage) -> dict[str, Any]:
    if isinstance(item.content, str):
        return {"role": item.role, "content": item.content}
    if all(part.type != "input_image" for part in item.content):
        return {"role": item.role, "content": "".join(part.text or "" for part in item.content)}
    parts: list[dict[str, Any]] = []
    for part in item.content:
        if part.type == "input_image":
            image = {"url": part.image_url or ""}
            parts.append({"type": "image_url", "image_url": image})
        else:
            parts.append({"type": "text", "text": part.text or ""})
    return {"role": item.role, "content": parts}


def _response_format(text: dict[str, Any] | None) -> dict[str, Any] | None:
    """``text.format`` as chat's ``response_format`` (the schema moves one level down)."""
    format_ = (text or {}).get("format")
    if not isinstance(format_, dict) or format_.get("type") in (None, "text"):
        return None
    if format_.get("type") != "json_schema":
        return {"type": format_["type"]}
    schema = {key: value for key, value in format_.items() if key != "type"}
    return {"type": "json_schema", "json_schema": schema}


def from_chat(completion: ChatCompletion, request: ResponsesRequest) -> Response:
    """A chat answer as a response: its first choice as the one output message."""
    choice = completion.choices[0] if completion.choices else None
    content: list[OutputText | OutputRefusal] = []
    if choice is not None and choice.message.refusal and not choice.message.text():
        content.append(OutputRefusal(refusal=choice.message.refusal))
    elif choice is not None:
        content.append(OutputText(text=choice.message.text() or ""))
    finish = choice.finish_reason if choice is not None else None
    message = OutputMessage(id=_new_id("msg"), content=content)
    return _response(
        request, _new_id("resp"), int(time.time()), [message], finish, completion.usage
    )


def _response(
    request: ResponsesRequest,
    id_: str,
    created_at: int,
    output: list[OutputMessage],
    finish: str | None,
    usage: Usage | None,
) -> Response:
    incomplete = _INCOMPLETE.get(finish or "")
    for message in output:
        message.status = "incomplete" if incomplete else "completed"
    return Response(
        id=id_,
        created_at=created_at,
        model=request.model,
        status="incomplete" if incomplete else "completed",
        incomplete_details={"reason": incomplete} if incomplete else None,
        instructions=request.instructions,
        max_output_tokens=request.max_output_tokens,
        output=output,
        temperature=request.temperature,
        top_p=request.top_p,
        text=request.text or {"format": {"type": "text"}},
        metadata=request.metadata or {},
        usage=_usage(usage),
        user=request.user,
    )


def _usage(usage: Usage | None) -> ResponseUsage | None:
    if usage is None:
        return None
    return ResponseUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


class ResponseEvents:
    """A chat stream as the Responses API's events, from ``response.created`` to ``completed``."""

    def __init__(self, request: ResponsesRequest) -> None:
        self._request = request
        self._sequence = 0
        self._id, self._item_id = _new_id("resp"), _new_id("msg")
        self._created_at = int(time.time())

    async def events(self, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[bytes]:
        """Every event of the response, the text deltas as the chunks bring them."""
        start = self._snapshot([], None, None).model_copy(update={"status": "in_progress"})
        yield self._event("response.created", response=start)
        yield self._event("response.in_progress", response=start)
        item = OutputMessage(id=self._item_id, status="in_progress")
        yield self._event("response.output_item.added", output_index=0, item=item)
        where = {"item_id": self._item_id, "output_index": 0, "content_index": 0}
        yield self._event("response.content_part.added", **where, part=OutputText(text=""))
        pieces: list[str] = []
        usage: Usage | None = None
        finish: str | None = None
        async for chunk in chunks:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                text = choice.delta.content or choice.delta.refusal if choice.index == 0 else None
                if text:
                    pieces.append(text)
                    yield self._event(
                        "response.output_text.delta", **where, delta=text, logprobs=[]
                    )
                if choice.index == 0:
                    finish = choice.finish_reason or finish
        part = OutputText(text="".join(pieces))
        yield self._event("response.output_text.done", **where, text=part.text, logprobs=[])
        yield self._event("response.content_part.done", **where, part=part)
        final = self._snapshot([part], finish, usage)
        yield self._event("response.output_item.done", output_index=0, item=final.output[0])
        yield self._event("response.completed", response=final)

    def _snapshot(
        self, parts: list[OutputText], finish: str | None, usage: Usage | None
    ) -> Response:
        output = [OutputMessage(id=self._item_id, content=list(parts))] if parts else []
        return _response(self._request, self._id, self._created_at, output, finish, usage)

    def error(self, error: GatewayError) -> bytes:
        """A failure after the first byte, as the API's ``error`` event."""
        body = error.to_response().error
        return self._event(
            "error", code=body.code or body.type, message=body.message, param=body.param
        )

    def _event(self, type_: str, **fields: Any) -> bytes:
        payload = {"type": type_, "sequence_number": self._sequence}
        for name, value in fields.items():
            payload[name] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
        self._sequence += 1
        return encode_event(payload, name=type_)
