"""The model server's app factory."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gateway.engines.base import Engine
from gateway.model_server.api_router import router
from gateway.model_server.serving import ModelServing, ServingError, bad_request


def create_model_server(
    engine: Engine, served_model_name: str, adapter_names: Sequence[str] = ()
) -> FastAPI:
    """An OpenAI-compatible app serving ``engine`` as the base model plus its adapters."""
    app = FastAPI(title="aligngate model server")
    app.state.serving = ModelServing(engine, served_model_name, adapter_names)
    app.include_router(router)
    app.add_exception_handler(ServingError, _serving_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app


async def _serving_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServingError)
    return JSONResponse(error.body.model_dump(mode="json"), status_code=error.status)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    # OpenAI clients expect 400 with an error object, not FastAPI's 422.
    assert isinstance(error, RequestValidationError)
    messages = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    return await _serving_error(request, bad_request("; ".join(messages)))
