"""Running a built gateway under uvicorn: pre-flight refusals, graceful shutdown."""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from fastapi import FastAPI

from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.startup import check_before_serving

# uvicorn's own exit status when a server never started (e.g. its port is taken).
STARTUP_FAILURE = 3


def serve(app: FastAPI, settings: GatewaySettings) -> None:
    """Serve ``app`` until SIGTERM or SIGINT; a refusal raises ``StartupRefused`` first."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # On SIGTERM uvicorn stops accepting, lets in-flight requests and streams finish
        # for this long, then exits.
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )
    server = uvicorn.Server(config)
    services: Services = app.state.services

    async def main() -> None:
        # Same event loop as the server, so a store's connection made here stays usable.
        await check_before_serving(services)
        _announce(settings)
        await server.serve()

    try:
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(main())
    except KeyboardInterrupt:
        pass  # uvicorn re-raises a captured SIGINT after its graceful shutdown
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _announce(settings: GatewaySettings) -> None:
    base_url = f"http://{settings.host}:{settings.port}/v1"
    print(
        f"aligngate: serving on {base_url}\n"
        f"  try: curl {base_url}/chat/completions -H 'content-type: application/json' "
        '-d \'{"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}]}\'\n'
        f"  or point an OpenAI client at base_url={base_url}",
        file=sys.stderr,
        flush=True,
    )
