"""Closed-loop load: N clients sending chat completions back to back for a while.

Shared by the scale benchmarks (``benchmarks/test_scale.py``), so every target, the
gateway and LiteLLM's proxy alike, is driven by the same client in the same way, and
by the overload test, whose flood must outrun the gateway on any machine.
Also runnable by hand: ``python -m tests.support.load_driver URL CONCURRENCY SECONDS``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

BODY = {"model": "upstream-model", "messages": [{"role": "user", "content": "Say hello"}]}


@dataclass
class LoadResult:
    """What one run of closed-loop load saw."""

    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    retry_after: int = 0

    def summary(self) -> dict[str, Any]:
        """Throughput, percentiles in ms and errors, for ``extra_info``."""
        cuts = (
            statistics.quantiles(self.latencies, n=100, method="inclusive")
            if len(self.latencies) > 1
            else [0.0] * 99
        )
        return {
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 2),
            "ok": len(self.latencies),
            "throughput_rps": round(len(self.latencies) / self.seconds, 1),
            "p50_ms": round(cuts[49] * 1000, 2),
            "p90_ms": round(cuts[89] * 1000, 2),
            "p99_ms": round(cuts[98] * 1000, 2),
            "errors": dict(self.errors),
            "rejected_with_retry_after": self.retry_after,
        }


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending pre-encoded requests, reading whole answers.

    A bare protocol rather than an HTTP client library: the driver shares two cores
    with the servers it measures, so its own cost per request must stay small.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._waiter: asyncio.Future[tuple[int, bytes, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail the request waiting on this connection."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        """Complete the waiting request once its whole answer is in."""
        self._buffer += data
        parsed = _parse(self._buffer)
        if parsed is not None and self._waiter is not None and not self._waiter.done():
            self._buffer = b""
            self._waiter.set_result(parsed)

    async def send(self, request: bytes) -> tuple[int, bytes, bytes]:
        """Status, head and body of the answer to ``request``."""
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self._waiter


def _parse(buffer: bytes) -> tuple[int, bytes, bytes] | None:
    """A whole HTTP/1.1 answer (content-length or chunked), or None while incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buffer[:end].lower()
    rest = buffer[end + 4 :]
    status = int(head[9:12])
    marker = head.find(b"content-length:")
    if marker >= 0:
        length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
        return (status, head, rest) if len(rest) >= length else None
    if b"transfer-encoding: chunked" in head:
        return (status, head, _dechunk(rest)) if rest.endswith(b"0\r\n\r\n") else None
    return status, head, rest


def _dechunk(raw: bytes) -> bytes:
    pieces = []
    while raw:
        size_line, _, raw = raw.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        pieces.append(raw[:size])
        raw = raw[size + 2 :]
    return b"".join(pieces)


def _request(base_url: str, stream: bool, api_key: str) -> tuple[str, int, bytes]:
    url = urlsplit(base_url)
    body = json.dumps({**BODY, "stream": stream}).encode()
    head = (
        f"POST {url.path}/chat/completions HTTP/1.1\r\nhost: {url.netloc}\r\n"
        f"authorization: Bearer {api_key}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return url.hostname or "127.0.0.1", url.port or 80, head.encode() + body


async def _one(connection: _Connection, request: bytes, stream: bool, result: LoadResult) -> bool:
    """One request; False when the connection is no longer usable."""
    started = time.perf_counter()
    try:
        status, head, body = await asyncio.wait_for(connection.send(request), 60)
    except (OSError, TimeoutError) as exc:
        key = type(exc).__name__
        result.errors[key] = result.errors.get(key, 0) + 1
        return False
    if status != 200:
        key = f"http {status}"
        result.errors[key] = result.errors.get(key, 0) + 1
        result.retry_after += b"retry-after:" in head
        return b"connection: close" not in head
    if stream and not body.rstrip().endswith(b"data: [DONE]"):
        result.errors["stream without [DONE]"] = result.errors.get("stream without [DONE]", 0) + 1
        return True
    result.latencies.append(time.perf_counter() - started)
    return True


async def drive(
    base_url: str,
    concurrency: int,
    seconds: float,
    *,
    stream: bool = False,
    warmup_s: float = 2.0,
    api_key: str = "sk-bench",
) -> LoadResult:
    """``concurrency`` clients back to back for ``warmup_s`` (not counted), then ``seconds``."""
    host, port, request = _request(base_url, stream, api_key)
    await _closed_loop(host, port, request, concurrency, warmup_s, stream, LoadResult(0, 0))
    result = LoadResult(concurrency, seconds)
    started = time.perf_counter()
    await _closed_loop(host, port, request, concurrency, seconds, stream, result)
    result.seconds = time.perf_counter() - started
    return result


async def _closed_loop(
    host: str,
    port: int,
    request: bytes,
    concurrency: int,
    seconds: float,
    stream: bool,
    result: LoadResult,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        connection: _Connection | None = None
        while time.perf_counter() < deadline:
            if connection is None:
                try:
                    _, connection = await loop.create_connection(_Connection, host, port)
                except OSError as exc:
                    result.errors[type(exc).__name__] = result.errors.get(type(exc).__name__, 0) + 1
                    await asyncio.sleep(0.05)
                    continue
            if not await _one(connection, request, stream, result):
                if connection.transport is not None:
                    connection.transport.close()
                connection = None
        if connection is not None and connection.transport is not None:
            connection.transport.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))


if __name__ == "__main__":
    outcome = asyncio.run(drive(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
    print(outcome.summary())
