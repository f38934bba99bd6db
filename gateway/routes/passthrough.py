"""Other ``/v1`` routes (embeddings, moderations...) forwarded to the model's backend.

Only routes on the tenant's passthrough list are forwarded, under the tenant's limits
and quota, and never a generation route for a tenant with stages.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from gateway.backends.base import CallContext, ForwardRequest, ForwardResponse
from gateway.dependencies import CallContextDep, ServicesDep, TenantDep
from gateway.errors import GatewayError, InvalidRequest
from gateway.forwarding import (
    check_aligned,
    check_body_limits,
    check_route,
    metered,
    route_name,
    tenant_has_stages,
)
from gateway.observability import Finished
from gateway.paths import forwarded_segments
from gateway.pipeline.trace import RequestTrace
from gateway.protocol import Usage
from gateway.services import Services
from gateway.tenants.models import Tenant

router = APIRouter()


async def forward(
    path: str, request: Request, services: ServicesDep, tenant: TenantDep, context: CallContextDep
) -> StreamingResponse:
    """Send an allowed request unchanged (no stages) to the backend of the model it names."""
    started = time.perf_counter()
    done = Finished(
        route="unknown",
        model="unknown",
        tenant=tenant.name,
        trace=RequestTrace(request_id=context.request_id),
        status=200,
        seconds=0.0,
    )
    try:
        upstream = await _admit_and_send(path, request, services, tenant, context, done)
    except GatewayError as exc:
        done.status, done.error_type = exc.status_code, exc.error_type
        done.seconds = time.perf_counter() - started
        await services.observer.finished(done)
        raise
    done.status = upstream.status_code

    async def finish(usage: Usage | None) -> None:
        # The stream's own end: the answer's usage is known only once it has been relayed.
        done.seconds = time.perf_counter() - started
        done.trace.note_usage(usage)
        await services.observer.finished(done)
        await services.quota.charge(tenant, done.trace.total_tokens)

    return StreamingResponse(
        metered(upstream.body, finish), status_code=upstream.status_code, headers=upstream.headers
    )


async def _admit_and_send(
    path: str,
    request: Request,
    services: Services,
    tenant: Tenant,
    context: CallContext,
    done: Finished,
) -> ForwardResponse:
    """Refuse what the tenant may not do or is over its limits for; else forward."""
    allowed = tenant.policy.passthrough
    allowed = services.config.passthrough if allowed is None else allowed
    name = check_route(route_name(request.method, forwarded_segments(path)), path, allowed)
    done.route = name
    body = await request.body()
    payload = _json_object(body)
    model = _model_of(payload) or ("*" if services.config.default_backend else None)
    if model is None:
        raise InvalidRequest(
            "this route needs a 'model' field naming a configured model", param="model"
        )
    route = services.router.route(model)
    done.model = services.router.model_label(route)
    staged = tenant_has_stages(services.planner, services.router.pipeline(route), tenant)
    check_aligned(name, path, allowed, staged)
    check_body_limits(tenant.limits, payload)
    await services.quota.admit(tenant)
    return await services.router.backend(route).forward(
        ForwardRequest(
            method=request.method,
            path=path,
            query=request.url.query,
            body=body,
            content_type=request.headers.get("content-type"),
        ),
        context,
    )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _model_of(payload: dict[str, Any] | None) -> str | None:
    model = payload.get("model") if payload is not None else None
    return model if isinstance(model, str) and model else None


def _register(methods: tuple[str, ...]) -> None:
    # One route per method, each with its own operation id, so the OpenAPI schema is valid.
    for method in methods:
        router.add_api_route(
            "/v1/{path:path}", forward, methods=[method], operation_id=f"proxy_{method.lower()}"
        )


_register(("GET", "POST", "PUT", "PATCH", "DELETE"))
