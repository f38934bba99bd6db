"""``GET /healthz`` (the process is up) and ``GET /readyz`` (it can serve)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.dependencies import ServicesDep

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: answers as soon as the process serves HTTP."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: every engine has its model loaded and some model is configured."""
    engines = await services.ready()
    configured = bool(services.config.models) or services.config.default_backend is not None
    ready = configured and all(engines.values())
    body = {"status": "ready" if ready else "not ready", "engines": engines, "models": configured}
    return JSONResponse(body, status_code=200 if ready else 503)
