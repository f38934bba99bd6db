"""``aligngate models serve``: run the model server on the in-process transformers engine."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from gateway.engines.config import TransformersEngineConfig


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``serve`` and its flags on the ``models`` group's subparsers."""
    serve: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="Serve a model and its LoRA adapters over the OpenAI API (as vllm serve)."
    )
    defaults = TransformersEngineConfig()
    serve.add_argument(
        "--model",
        default=defaults.model,
        help="embedded:smollm2, a .gguf file or a model directory",
    )
    serve.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="NAME=PATH",
        type=_adapter,
        help="LoRA adapter served as model NAME (repeatable)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--max-batch-size", type=int, default=defaults.max_batch_size)
    serve.add_argument("--batch-wait-ms", type=float, default=defaults.batch_wait_ms)
    serve.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    serve.add_argument(
        "--served-model-name",
        default=None,
        help="name clients use for the base model (default: --model)",
    )
    serve.set_defaults(handler=run)
    from gateway.model_server.vllm_commands import add_vllm_parsers

    add_vllm_parsers(subparsers)
    return serve


def _adapter(value: str) -> tuple[str, str]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {value!r}")
    return name, path


def run(args: argparse.Namespace) -> int:
    """Load the model, then serve it with uvicorn until interrupted."""
    config = TransformersEngineConfig(
        model=args.model,
        adapters=dict(args.adapter),
        max_batch_size=args.max_batch_size,
        batch_wait_ms=args.batch_wait_ms,
        threads=args.threads,
    )
    asyncio.run(_serve(config, args.served_model_name or args.model, args.host, args.port))
    return 0


async def _serve(config: TransformersEngineConfig, name: str, host: str, port: int) -> None:
    import uvicorn

    from gateway.engines.transformers_engine import TransformersEngine
    from gateway.model_server.app import create_model_server

    engine = TransformersEngine(config)
    # Load before binding the port, so a reachable /v1/models means ready.
    await engine.start()
    app = create_model_server(engine, name, list(config.adapters))
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
    try:
        await server.serve()
    finally:
        await engine.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m gateway.model_server.cli serve ...``."""
    parser = argparse.ArgumentParser(prog="python -m gateway.model_server.cli")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
