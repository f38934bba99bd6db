"""A gateway whose tenant has an Aligner stage on a real loopback engine, up or down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from gateway.engines.config import RemoteEngineConfig
from gateway.engines.registry import build_engine
from gateway.stage_modes import FailurePolicy
from gateway.tenants.keys import hash_key
from tests.support.canned_upstream import CannedAnswers, canned_server, completion
from tests.support.gateway import running_gateway, upstream_route
from tests.support.servers import serve_in_thread

KEY = "sk-aligned-tenant-0123456789"
CORRECTION = "A careful and corrected answer from the Aligner."
ORIGINAL = "UNALIGNED original answer of the upstream model."


def broken_engine() -> FastAPI:
    """A stage engine that answers every request with a 500."""
    app = FastAPI()

    @app.api_route("/{rest:path}", methods=["GET", "POST"])
    async def broken(rest: str) -> JSONResponse:
        return JSONResponse({"error": {"message": "engine down"}}, status_code=500)

    return app


@contextmanager
def aligned_gateway(
    upstream_url: str,
    aligner: Literal["up", "down"] = "up",
    on_failure: FailurePolicy = "closed",
    **tenant: Any,
) -> Iterator[str]:
    """A gateway for ``gpt-test`` whose tenant (key ``KEY``) runs an Aligner before answering.

    Up, the Aligner's engine corrects every answer to ``CORRECTION``; down, it fails.
    """
    with ExitStack() as stack:
        if aligner == "up":
            answers = CannedAnswers(
                completion=completion({"role": "assistant", "content": CORRECTION})
            )
            engine_url = stack.enter_context(canned_server(answers))
        else:
            engine_url = stack.enter_context(serve_in_thread(broken_engine())) + "/v1"
        config = {
            "engines": {"small": {"kind": "remote", "api_base": engine_url, "model": "m"}},
            "models": [upstream_route("gpt-test", upstream_url)],
            "stages": {"aligner": {"kind": "aligner", "engine": "small", "timeout_s": 5}},
            "pipeline": ["aligner"],
            "tenants": [
                {
                    "name": "acme",
                    "api_key_sha256": [hash_key(KEY)],
                    "policy": {"on_failure": on_failure},
                    **tenant,
                }
            ],
        }
        small = build_engine(RemoteEngineConfig(api_base=engine_url, model="m"))
        yield stack.enter_context(running_gateway(config, {"small": small}))
