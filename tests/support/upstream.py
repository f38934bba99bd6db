"""A real OpenAI-compatible upstream for tests: scripted answers, recorded requests."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
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

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        await record(request)

        async def audio() -> AsyncIterator[bytes]:
            # Stands for streamed audio: a forwarded stream that is no chat stream.
            for word in script.reply.split(" "):
                yield word.encode() + b" "
                await asyncio.sleep(script.chunk_delay_s)

        return StreamingResponse(audio(), media_type="audio/mpeg")

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
                await asyncio.sleep(script.chunk_delay_s)
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


@dataclass
class RawScript:
    """Faults of the bare-socket upstream: ``faults`` are used up first, then ``fault``."""

    faults: list[Literal["close", "stall"]] = field(default_factory=list)
    fault: Literal["close", "stall"] | None = None
    stall_s: float = 5.0
    reply: str = "The raw upstream's answer."
    requests: list[str] = field(default_factory=list)  # request lines, e.g. "GET /v1/models"


def _raw_body(script: RawScript, path: str) -> bytes:
    if path.endswith("/models"):
        models = [{"id": "raw-model", "object": "model", "created": 0, "owned_by": "test"}]
        return json.dumps({"object": "list", "data": models}).encode()
    return json.dumps(_completion(UpstreamScript(reply=script.reply), "raw-model")).encode()


def _read_request(conn: socket.socket) -> str:
    """Read one request (head and declared body); return its request line."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return ""
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        (int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length")),
        0,
    )
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return " ".join(lines[0].split(" ")[:2])


def _serve_raw(conn: socket.socket, script: RawScript, stop: threading.Event) -> None:
    with conn:
        request_line = _read_request(conn)
        if not request_line:
            return
        script.requests.append(request_line)
        fault = script.faults.pop(0) if script.faults else script.fault
        body = _raw_body(script, request_line.split(" ")[1])
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        if fault is None:
            conn.sendall(head.encode() + body)
            return
        # Headers promise the whole body; only half of it ever comes.
        conn.sendall(head.encode() + body[: len(body) // 2])
        if fault == "stall":
            stop.wait(script.stall_s)


@contextmanager
def raw_upstream(script: RawScript) -> Iterator[str]:
    """An upstream on a bare socket that breaks off mid-body; yields its base URL with /v1."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            threading.Thread(target=_serve_raw, args=(conn, script, stop), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        acceptor.join(timeout=5)
        listener.close()
