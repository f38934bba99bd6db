"""Every HTTP request counted, timed and logged, whoever answered it.

The generation handler's ``chat_request`` line and series say what the stages did;
this layer sees the requests that never reach a handler too: a 400 from validation,
a 401 from authentication, a 413 or 408 from the body reader, a 429 from the
concurrency limit, passthrough and admin calls, unknown paths.
"""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.forwarding import route_name
from gateway.metrics import Metrics
from gateway.middleware import request_id_from

log = structlog.get_logger("aligngate.access")

_FIXED_ROUTES = {
    "/healthz": "health",
    "/healthz/details": "health",
    "/readyz": "health",
    "/metrics": "metrics",
    "/docs": "docs",
    "/redoc": "docs",
    "/openapi.json": "docs",
}
_GENERATION_ROUTES = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/responses": "responses",
}
# Probes and scrapes arrive every few seconds: counted, but logged only at debug.
_QUIET_ROUTES = frozenset({"health", "metrics"})
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def route_label(method: str, path: str) -> str:
    """A fixed name for the route a path belongs to: never the path, which a client picks."""
    if path in _FIXED_ROUTES:
        return _FIXED_ROUTES[path]
    if method == "POST" and path in _GENERATION_ROUTES:
        return _GENERATION_ROUTES[path]
    if path == "/admin" or path.startswith("/admin/"):
        return "admin"
    if path.startswith("/v1/") and len(path) > 4:
        # The passthrough allow-list's names; generation routes are among them.
        return route_name(method, tuple(path[4:].split("/"))) or "unknown"
    return "unknown"


class AccessMiddleware:
    """Counts each request by route and status, tracks those in flight, logs one line each."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, noting the status it answered and when its answer ended."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in _METHODS else "other"
        route = route_label(scope["method"], scope["path"])
        status = 500  # what the client gets when the app fails before answering
        started = time.perf_counter()

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        in_flight = self.metrics.in_flight.labels(route)
        in_flight.inc()
        try:
            await self.app(scope, receive, noting_send)
        finally:
            in_flight.dec()
            seconds = time.perf_counter() - started
            self.metrics.http_requests.labels(route, method, str(status)).inc()
            self.metrics.http_latency.labels(route).observe(seconds)
            emit = log.debug if route in _QUIET_ROUTES else log.info
            emit(
                "http_request",
                request_id=request_id_from(scope),
                method=method,
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 2),
            )
