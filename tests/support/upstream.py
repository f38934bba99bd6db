"""A real OpenAI-compatible upstream for tests: scripted answers, recorded requests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


@dataclass
class UpstreamScript:
    """What the upstream answers; tests change it between requests."""

    reply: str = "The upstream model's original answer."
    status: int = 200
    error_message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    tool_call: bool = False
    keep_requests: bool = True
    fail_times: int = 0  # fail this many requests first (with ``fail_status``), then answer
    fail_status: int = 500
    malformed: bool = False
    stream_fault: Literal["cut", "stall"] | None = None
    stall_s: float = 5.0
    chunk_delay_s: float = 0.0
    disconnects: int = 0  # requests whose caller went away during ``delay_s``
    requests: list[dict[str, Any]] = field(default_factory=list)
    request_headers: list[dict[str, str]] = field(default_factory=list)


def _completion(script: UpstreamScript, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": script.reply}
    if script.tool_call:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                }
            ],
        }
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        "system_fingerprint": "fp_upstream",
    }


async def _chunks(script: UpstreamScript, body: dict[str, Any]) -> AsyncIterator[bytes]:
    base = {
        "id": "chatcmpl-upstream",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": body["model"],
    }
    words = script.reply.split(" ")
    first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    yield f"data: {json.dumps(first)}\n\n".encode()
    for i, word in enumerate(words):
        text = word if i == len(words) - 1 else word + " "
        chunk = {
            **base,
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }
        yield f"data: {json.dumps(chunk)}\n\n".encode()
        await asyncio.sleep(script.chunk_delay_s)
        if i == 1 and script.stream_fault == "stall":
            await asyncio.sleep(script.stall_s)
        if i == 1 and script.stream_fault == "cut":
            raise ConnectionAbortedError("scripted cut mid-stream")
    last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield f"data: {json.dumps(last)}\n\n".encode()
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": 5,
                "completion_tokens": len(words),
                "total_tokens": 5 + len(words),
            },
        }
        yield f"data: {json.dumps(usage)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def create_upstream(script: UpstreamScript) -> FastAPI:
    """The upstream app serving chat, models, embeddings and completions."""
    app = FastAPI()

    async def record(request: Request) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(await request.body() or b"{}")
        if script.keep_requests:
            script.requests.append(body)
            script.request_headers.append(dict(request.headers))
        if script.delay_s:
            deadline = time.monotonic() + script.delay_s
            while time.monotonic() < deadline:
                if await request.is_disconnected():
                    script.disconnects += 1
                    break
                await asyncio.sleep(0.02)
        return body

    def failure() -> Response | None:
        if script.fail_times > 0:
            script.fail_times -= 1
            status = script.fail_status
        elif script.status != 200:
            status = script.status
        else:
            return None
        error = {
            "error": {
                "message": script.error_message,
                "type": "upstream_error",
                "param": None,
                "code": None,
            }
        }
        return JSONResponse(error, status_code=status, headers=script.headers)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await record(request)
        if (failed := failure()) is not None:
            return failed
        if script.malformed:
            return Response(b'{"id": "x", "choices": [', media_type="application/json")
        if body.get("stream"):
            return StreamingResponse(_chunks(script, body), media_type="text/event-stream")
        return JSONResponse(_completion(script, body["model"]))

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": "upstream-model", "object": "model", "created": 0, "owned_by": "test"}],
        }

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        body = await record(request)
        if (failed := failure()) is not None:
            return failed
        return JSONResponse(
            {
                "object": "list",
                "model": body["model"],
                "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 1.0]}],
                "usage": {"prompt_tokens": 2, "total_tokens": 2},
            }
        )

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await record(request)

        async def events() -> AsyncIterator[bytes]:
            for word in script.reply.split(" "):
                chunk = {
                    "id": "cmpl-1",
                    "object": "text_completion",
                    "created": 1,
                    "model": body["model"],
                    "choices": [{"index": 0, "text": word + " ", "finish_reason": None}],
                }
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        if body.get("stream"):
            return StreamingResponse(events(), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "created": 1,
                "model": body["model"],
                "choices": [{"index": 0, "text": script.reply, "finish_reason": "stop"}],
            }
        )

    return app
