"""ASGI middleware: request ids and the body-size limit, applied before any route runs."""

from __future__ import annotations

import asyncio
import re
import traceback
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import GatewayError, PayloadTooLarge, RateLimited, error_response

log = structlog.get_logger(__name__)

# Client-chosen request ids are echoed back and logged, so only a safe alphabet is kept.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_from(scope: Scope) -> str:
    """The request id chosen by the middleware for this request."""
    return str(scope.get("state", {}).get("request_id", ""))


class RequestIdMiddleware:
    """Takes a sane ``x-request-id`` from the client or makes one, and echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Attach the id to the scope state and to the response headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _SAFE_ID.match(supplied) else f"req-{uuid.uuid4().hex}"
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Answers 413 for bodies over the limit, by header or by counting what arrives."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Reject early on Content-Length; otherwise count the streamed body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException survives FastAPI's body parsing as itself (413).
                    raise HTTPException(status_code=413, detail=self._message())
            return message

        await self.app(scope, counting_receive, send)

    def _message(self) -> str:
        return f"request body is larger than the limit of {self.max_bytes} bytes"

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(PayloadTooLarge(self._message()))(scope, receive, send)


class ConcurrencyLimitMiddleware:
    """Answers 429 with Retry-After beyond a global number of in-flight API requests.

    Health, readiness and metrics stay reachable so an overloaded gateway is seen as
    busy, not dead.
    """

    def __init__(self, app: ASGIApp, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count API requests in flight; reject the one over the limit."""
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            error = RateLimited(
                "the gateway is at its concurrency limit; retry shortly",
                code="overloaded",
                headers={"retry-after": "1"},
            )
            await error_response(error)(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class CancelOnDisconnectMiddleware:
    """Cancels a request's work (backend call, stage generation) when its client goes away.

    Starlette already stops a streaming response on disconnect; a plain request would
    otherwise run to the end and pay for an answer nobody reads.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app as a task; once the body is read, a disconnect cancels it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_read = asyncio.Event()
        disconnected = asyncio.Event()

        async def tracking_receive() -> Message:
            if body_read.is_set():
                await disconnected.wait()
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_read.set()
            elif message["type"] == "http.disconnect":
                disconnected.set()
            return message

        async def watch() -> None:
            await body_read.wait()
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        app_task = asyncio.ensure_future(self.app(scope, tracking_receive, send))
        watcher = asyncio.ensure_future(watch())
        try:
            done, _ = await asyncio.wait({app_task, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if app_task not in done:
                app_task.cancel()
            await asyncio.gather(app_task, return_exceptions=True)
            if not app_task.cancelled() and app_task.exception() is not None:
                raise app_task.exception()  # type: ignore[misc]
        finally:
            watcher.cancel()


class UnexpectedErrorMiddleware:
    """Turns an exception no handler knew into a logged 500, inside the request-id layer.

    Starlette's last-resort handler runs outside every middleware: its 500 had no
    ``x-request-id``, and it re-raised so uvicorn printed a traceback as well.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 500 in OpenAI's shape, or end a started response unfinished."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            _log_unexpected(scope, exc, started)
            if not started:
                await error_response(GatewayError("internal error"))(scope, receive, send)
            # Once started, returning leaves the body unfinished: uvicorn closes the
            # connection, so the client sees a broken answer, never a complete-looking one.


def _log_unexpected(scope: Scope, exc: Exception, started: bool) -> None:
    fields = {
        "request_id": request_id_from(scope),
        "method": scope.get("method"),
        "path": scope.get("path"),
    }
    typed = _typed_cause(exc)
    if typed is not None and started:
        # A backend failing mid-answer (a proxied body breaking off) is known, not a bug.
        log.warning("response_cut_short", error=typed.error_type, message=typed.message, **fields)
        return
    # The traceback is formatted here, plainly: a console renderer's pretty one (with
    # locals) takes seconds, on the event loop, for every 500.
    trace = "".join(traceback.format_exception(exc))
    log.error("unhandled_error", error=type(exc).__name__, exception=trace, **fields)


def _typed_cause(exc: BaseException) -> GatewayError | None:
    """The gateway error behind ``exc``, also when Starlette re-raised it as another."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, GatewayError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
