"""``GET /healthz`` (the process is up), ``/readyz`` (this pod can serve), ``/healthz/details``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.dependencies import ServicesDep
from gateway.readiness import HealthDetails

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: answers as soon as the process serves HTTP."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: in-process engines loaded, the store answering, some model configured.

    Remote engines are left out on purpose (see gateway/readiness.py).
    """
    readiness = await services.ready()
    return JSONResponse(readiness.model_dump(), status_code=200 if readiness.ready else 503)


@router.get("/healthz/details")
async def health_details(services: ServicesDep) -> HealthDetails:
    """Every engine's health, remote ones included; always 200, the body says what is down."""
    return await services.health.details()
