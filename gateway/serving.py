"""Running a built gateway under uvicorn: pre-flight refusals, listeners, graceful shutdown."""

from __future__ import annotations

import asyncio
import socket
import sys
import time

import structlog
import uvicorn
from fastapi import FastAPI

from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.startup import check_before_serving
from gateway.startup_checks import StartupRefused

log = structlog.get_logger(__name__)

# uvicorn's own exit status when a server never started (e.g. its port is taken).
STARTUP_FAILURE = 3
# How often readiness is checked until it first holds (a few cheap awaits, no I/O
# beyond the store's ping).
_READY_POLL_S = 0.25


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
        _starting(settings, services)
        announce = asyncio.create_task(_ready_when_green(settings, services, server))
        sockets = None
        if settings.metrics_port is not None or settings.reuse_port:
            # Both listeners on one server: one lifespan, one graceful shutdown; the app
            # tells them apart by the local port (gateway/listeners.py). With
            # reuse_port, sibling workers listen on the same ports (``--workers``).
            reuse = settings.reuse_port
            api = _listen(settings.host, settings.port, "--port", reuse) if reuse else None
            sockets = [api or config.bind_socket()]
            if settings.metrics_port is not None:
                sockets.append(
                    _listen(settings.host, settings.metrics_port, "--metrics-port", reuse)
                )
        try:
            await server.serve(sockets)
        finally:
            announce.cancel()

    try:
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(main())
    except KeyboardInterrupt:
        pass  # uvicorn re-raises a captured SIGINT after its graceful shutdown
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _listen(host: str, port: int, flag: str, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupRefused(f"cannot listen on {host}:{port} ({flag}): {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _starting(settings: GatewaySettings, services: Services) -> None:
    """Before the wait: where it will serve, and that the models load first."""
    loading = sorted(name for name in services.engines if hasattr(services.engines[name], "start"))
    if services.planner.gate is not None:
        loading.append("risk-gate")
    base_url = f"http://{settings.host}:{settings.port}/v1"
    message = f"starting on {base_url}" + (
        f"; loading {', '.join(loading)} before it is ready" if loading else ""
    )
    if settings.log_json:
        log.info("starting", base_url=base_url, loading=loading, message=message)
    else:
        print(f"aligngate: {message}", file=sys.stderr, flush=True)


async def _ready_when_green(
    settings: GatewaySettings, services: Services, server: uvicorn.Server
) -> None:
    """Say "ready" once ``/readyz`` would answer 200, not when the port opens."""
    started = time.monotonic()
    while not (server.started and (await services.ready()).ready):
        await asyncio.sleep(_READY_POLL_S)
    _announce(settings, round(time.monotonic() - started, 1))


def _announce(settings: GatewaySettings, seconds: float) -> None:
    base_url = f"http://{settings.host}:{settings.port}/v1"
    if settings.log_json:
        # Every line is JSON when logs are: a log collector reads this one too.
        metrics_url = (
            f"http://{settings.host}:{settings.metrics_port}/metrics"
            if settings.metrics_port is not None
            else None
        )
        log.info(
            "ready", base_url=base_url, metrics_url=metrics_url, seconds=seconds, message="ready"
        )
        return
    print(
        f"aligngate: ready on {base_url} ({seconds} s)\n"
        f"  try: curl {base_url}/chat/completions -H 'content-type: application/json' "
        '-d \'{"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}]}\'\n'
        f"  or point an OpenAI client at base_url={base_url}",
        file=sys.stderr,
        flush=True,
    )
    if settings.metrics_port is not None:
        metrics_url = f"http://{settings.host}:{settings.metrics_port}/metrics"
        print(f"  metrics on {metrics_url} only", file=sys.stderr, flush=True)
