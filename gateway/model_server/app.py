"""The model server's app factory."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from gateway.engines.base import Engine
from gateway.errors import add_error_handlers
from gateway.model_server.api_router import router
from gateway.model_server.serving import ModelServing


def create_model_server(
    engine: Engine, served_model_name: str, adapter_names: Sequence[str] = ()
) -> FastAPI:
    """An OpenAI-compatible app serving ``engine`` as the base model plus its adapters."""
    app = FastAPI(title="aligngate model server")
    app.state.serving = ModelServing(engine, served_model_name, adapter_names)
    app.include_router(router)
    # The gateway's handlers: errors reach clients of both in one shape.
    add_error_handlers(app)
    return app
