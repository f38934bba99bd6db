"""The FastAPI application: routers, middleware and the OpenAI error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from gateway.access import AccessMiddleware
from gateway.admission import LoadSheddingMiddleware
from gateway.errors import add_error_handlers
from gateway.listeners import MetricsListenerMiddleware
from gateway.middleware import (
    BodyReaderMiddleware,
    CancelOnDisconnectMiddleware,
    ConcurrencyLimitMiddleware,
    RequestIdMiddleware,
    UnexpectedErrorMiddleware,
)
from gateway.paths import CanonicalPathMiddleware
from gateway.routes import (
    admin,
    chat,
    completions,
    guardrail,
    health,
    metrics,
    models,
    passthrough,
    responses,
)
from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.startup_checks import is_loopback

log = structlog.get_logger(__name__)


def create_app(services: Services) -> FastAPI:
    """Build the gateway app around already-built services."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        yield
        await services.aclose()

    docs = _serves_docs(services.settings)
    app = FastAPI(
        title="aligngate",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        # The gateway traces and counts requests itself (gateway/tracing, metrics), to
        # its own providers. FastAPI's native telemetry would add a second span tree
        # per request under any global provider (auto-instrumentation sets one), and
        # checks for one on every request (2% of a pass-through request's CPU).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    for router in (
        health.router,
        metrics.router,
        admin.router,
        chat.router,
        completions.router,
        responses.router,
        guardrail.router,
        models.router,
        # Last: its catch-all path must not shadow the generation routes above.
        passthrough.router,
    ):
        app.include_router(router)
    settings = services.settings
    # Added innermost first: the request id wraps everything, so even a 429 carries one;
    # a request counts towards the concurrency limit only once its body is in.
    app.add_middleware(CancelOnDisconnectMiddleware)
    app.add_middleware(
        ConcurrencyLimitMiddleware,
        max_in_flight=settings.max_concurrency,
        observer=services.observer,
    )
    if settings.metrics_port is not None:
        app.add_middleware(MetricsListenerMiddleware, metrics_port=settings.metrics_port)
    app.add_middleware(
        BodyReaderMiddleware,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_read_timeout_s,
        observer=services.observer,
    )
    if settings.max_loop_lag_ms is not None:
        # Outside the body reader: refusing must cost less than reading the body.
        app.add_middleware(
            LoadSheddingMiddleware,
            max_loop_lag_s=settings.max_loop_lag_ms / 1000,
            observer=services.observer,
        )
    # Before any routing or counting: a path spelled two ways could be routed one way here
    # and another way upstream (see gateway/paths.py).
    app.add_middleware(CanonicalPathMiddleware)
    # Just inside the request id, so an unexpected 500 carries one too.
    app.add_middleware(UnexpectedErrorMiddleware)
    if settings.cors_origins:
        # Outside every layer that answers on its own (413, 408, 429, 503, a refused
        # path, a 500): a browser app must be able to read those errors too.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["x-request-id", "x-aligngate-stages", "x-aligngate-arm"],
        )
    # Outside every layer that can answer on its own, so each answer is counted and logged.
    app.add_middleware(AccessMiddleware, metrics=services.metrics)
    app.add_middleware(RequestIdMiddleware)
    add_error_handlers(app)
    return app


def _serves_docs(settings: GatewaySettings) -> bool:
    # Unset: on loopback only the developer at this machine reads the route map; on a
    # public interface it would hand anyone the admin API's shape.
    return settings.docs if settings.docs is not None else is_loopback(settings.host)
