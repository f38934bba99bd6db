"""With a metrics port, ``/metrics`` is served on that listener alone and nowhere else.

Both listeners belong to one uvicorn server (gateway/serving.py); a request's local
port, which the ASGI scope carries as ``server``, says which one it came in on.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import NotFound, error_response

METRICS_PATH = "/metrics"


class MetricsListenerMiddleware:
    """404 for ``/metrics`` on the API port and for every other path on the metrics port."""

    def __init__(self, app: ASGIApp, metrics_port: int) -> None:
        self.app = app
        self.metrics_port = metrics_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route by the local port before anything else looks at the request."""
        if scope["type"] == "http":
            server = scope.get("server")
            on_metrics_port = server is not None and server[1] == self.metrics_port
            if on_metrics_port != (scope["path"] == METRICS_PATH):
                await error_response(NotFound("Not Found"))(scope, receive, send)
                return
        await self.app(scope, receive, send)
