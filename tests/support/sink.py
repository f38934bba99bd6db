"""Loopback helpers for path tests: a server that counts what reaches it, and raw HTTP."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass
class Seen:
    """Every request a recorded server received, as (method, raw path with query)."""

    requests: list[tuple[str, str]] = field(default_factory=list)


class Recording:
    """Wraps an ASGI app and notes each HTTP request before the app sees it."""

    def __init__(self, app: ASGIApp, seen: Seen) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record, then delegate."""
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope["path"].encode()
            query = scope.get("query_string", b"")
            target = raw + (b"?" + query if query else b"")
            self.seen.requests.append((scope["method"], target.decode("latin-1")))
        await self.app(scope, receive, send)


def sink(seen: Seen) -> ASGIApp:
    """A server nobody configured: it records every request and answers a bare 200."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"sink"})

    return Recording(app, seen)


@dataclass
class RawResponse:
    """What a raw HTTP request got back."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", "replace")


def raw_request(
    base_url: str,
    method: str,
    target: bytes,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> RawResponse:
    """Send ``target`` as the request line's target, byte for byte, and read the answer."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sent = [("host", f"{host}:{port}"), ("connection", "close")]
    sent += [(k, v) for k, v in (headers or {}).items()]
    if body or method in {"POST", "PUT", "PATCH"}:
        sent.append(("content-length", str(len(body))))
    connection = h11.Connection(h11.CLIENT)
    data = connection.send(h11.Request(method=method, target=target, headers=sent))
    data += connection.send(h11.Data(data=body)) if body else b""
    data += connection.send(h11.EndOfMessage())
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(data)
        return _read_response(connection, sock)


def _read_response(connection: h11.Connection, sock: socket.socket) -> RawResponse:
    status, headers, body = 0, {}, b""
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(sock.recv(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
            headers = {k.decode(): v.decode("latin-1") for k, v in event.headers}
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return RawResponse(status=status, headers=headers, body=body)
