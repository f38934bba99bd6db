"""A loopback OpenAI-compatible server that answers exactly the JSON a test hands it.

Unlike ``upstream.py`` it builds nothing itself: a test writes the whole completion or
every stream chunk, so it can send shapes a real provider sends (logprobs, reasoning
fields, tool calls next to text, no choices, a null content) and count what went out.
It serves as a backend upstream and as a ``kind: remote`` stage engine alike.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tests.support.servers import serve_in_thread


@dataclass
class CannedAnswers:
    """What the server answers; ``sent_bytes`` counts the stream bytes it produced."""

    completion: dict[str, Any] = field(default_factory=dict)
    chunks: Callable[[], Iterable[dict[str, Any]]] = lambda: ()
    requests: list[dict[str, Any]] = field(default_factory=list)
    sent_bytes: int = 0


def completion(*messages: dict[str, Any], **choice_fields: Any) -> dict[str, Any]:
    """A chat completion with one choice per message; ``choice_fields`` go on every choice."""
    return {
        "id": "chatcmpl-canned",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-model",
        "choices": [
            {"index": i, "message": m, "finish_reason": "stop", **choice_fields}
            for i, m in enumerate(messages)
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }


def chunk(delta: dict[str, Any], index: int = 0, **choice_fields: Any) -> dict[str, Any]:
    """A stream chunk with one choice carrying ``delta``."""
    return {
        "id": "chatcmpl-canned",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "upstream-model",
        "choices": [{"index": index, "delta": delta, **choice_fields}],
    }


def create_canned(answers: CannedAnswers) -> FastAPI:
    """The app: chat completions (plain or streamed) and a model list."""
    app = FastAPI()

    async def events(request: Request) -> AsyncIterator[bytes]:
        for number, payload in enumerate(answers.chunks()):
            # uvicorn drops writes to a closed connection without telling the app, so
            # the server asks: a caller that stopped reading ends the stream.
            if number % 64 == 0 and await request.is_disconnected():
                return
            data = f"data: {json.dumps(payload)}\n\n".encode()
            answers.sent_bytes += len(data)
            yield data
        yield b"data: [DONE]\n\n"

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body: dict[str, Any] = json.loads(await request.body())
        answers.requests.append(body)
        if body.get("stream"):
            return StreamingResponse(events(request), media_type="text/event-stream")
        return JSONResponse(answers.completion)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "upstream-model", "object": "model"}]}

    return app


@contextmanager
def canned_server(answers: CannedAnswers) -> Iterator[str]:
    """Serve ``answers`` on loopback and yield the base URL with ``/v1``."""
    with serve_in_thread(create_canned(answers)) as url:
        yield f"{url}/v1"
