"""``GET /metrics`` in Prometheus' text format, behind the metrics key when one is set."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.dependencies import ServicesDep
from gateway.errors import AuthenticationFailed
from gateway.tenants.keys import bearer_token, hash_key

router = APIRouter()


async def require_metrics_key(request: Request, services: ServicesDep) -> None:
    """The series name every tenant and count its traffic; only the scraper may read them."""
    key = services.settings.metrics_key
    if key is None:
        return
    token = bearer_token(request.headers.get("authorization"))
    # Digests of equal length, so the comparison takes the same time whatever was sent.
    if token is None or not hmac.compare_digest(hash_key(token), hash_key(key.get_secret_value())):
        raise AuthenticationFailed("invalid metrics key", code="invalid_metrics_key")


@router.get("/metrics", include_in_schema=False)
async def metrics(
    services: ServicesDep, _: Annotated[None, Depends(require_metrics_key)]
) -> Response:
    """Every series of this process."""
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
