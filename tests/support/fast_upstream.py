"""A loopback OpenAI-compatible upstream cheap enough not to be the bottleneck.

``python -m tests.support.fast_upstream PORT [DELAY_MS]``: a bare asyncio protocol
answering ``/v1/models`` and ``/v1/chat/completions`` (plain or streamed) with
fixed bodies over HTTP/1.1 keep-alive, after ``DELAY_MS`` when given, so the
gateway's own cost per request is what a load benchmark sees, and a slow model
can be imitated without the upstream burning CPU while it waits.
"""

from __future__ import annotations

import asyncio
import json
import sys

_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-fast",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from the upstream."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }
).encode()
_MODELS = json.dumps(
    {"object": "list", "data": [{"id": "upstream-model", "object": "model", "owned_by": "x"}]}
).encode()


def _events() -> bytes:
    base = {"id": "chatcmpl-fast", "object": "chat.completion.chunk", "created": 1}
    deltas = [{"role": "assistant", "content": ""}, {"content": "Hello "}, {"content": "there."}]
    events = [
        {**base, "model": "upstream-model", "choices": [{"index": 0, "delta": d}]} for d in deltas
    ]
    events.append(
        {
            **base,
            "model": "upstream-model",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
    )
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


def _response(body: bytes, content_type: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: "
        + content_type
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


_ANSWERS = {
    "json": _response(_COMPLETION, b"application/json"),
    "stream": _response(_events(), b"text/event-stream"),
    "models": _response(_MODELS, b"application/json"),
}
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


class _Upstream(asyncio.Protocol):
    """One connection: requests parsed by content-length, answered in order."""

    def __init__(self, delay_s: float) -> None:
        self._delay_s = delay_s
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to answer on."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        """Answer every complete request in the buffer."""
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            self._answer(head.split(" ", 2)[1], body)

    def _answer(self, path: str, body: bytes) -> None:
        if path.endswith("/models"):
            answer = _ANSWERS["models"]
        elif path.endswith("/chat/completions"):
            answer = _ANSWERS["stream" if b'"stream":true' in body.replace(b" ", b"") else "json"]
        else:
            answer = _NOT_FOUND
        if self._delay_s:
            asyncio.get_running_loop().call_later(self._delay_s, self._write, answer)
        else:
            self._write(answer)

    def _write(self, answer: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(answer)


async def _serve(port: int, delay_s: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Upstream(delay_s), "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    delay_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    try:
        asyncio.run(_serve(int(sys.argv[1]), delay_ms / 1000))
    except KeyboardInterrupt:
        pass
