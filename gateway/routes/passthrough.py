"""Other ``/v1`` routes (embeddings, completions, moderations...) proxied to the model's backend."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from gateway.backends.base import ForwardRequest
from gateway.dependencies import CallContextDep, ServicesDep, TenantDep
from gateway.errors import InvalidRequest

router = APIRouter()


async def forward(
    path: str, request: Request, services: ServicesDep, tenant: TenantDep, context: CallContextDep
) -> StreamingResponse:
    """Send the request unchanged (no stages) to the backend of the model it names."""
    body = await request.body()
    model = _model_of(body) or ("*" if services.config.default_backend is not None else None)
    if model is None:
        raise InvalidRequest(
            "this route needs a 'model' field naming a configured model", param="model"
        )
    upstream = await services.backend(services.route(model)).forward(
        ForwardRequest(
            method=request.method,
            path=path,
            query=request.url.query,
            body=body,
            content_type=request.headers.get("content-type"),
        ),
        context,
    )
    return StreamingResponse(
        upstream.body, status_code=upstream.status_code, headers=upstream.headers
    )


def _model_of(body: bytes) -> str | None:
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        return None
    model = payload.get("model") if isinstance(payload, dict) else None
    return model if isinstance(model, str) and model else None


def _register(methods: tuple[str, ...]) -> None:
    # One route per method, each with its own operation id, so the OpenAPI schema is valid.
    for method in methods:
        router.add_api_route(
            "/v1/{path:path}", forward, methods=[method], operation_id=f"proxy_{method.lower()}"
        )


_register(("GET", "POST", "PUT", "PATCH", "DELETE"))
