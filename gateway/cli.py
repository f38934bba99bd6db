"""The ``aligngate`` command: serve the gateway and models, plus the plug-ins' subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from gateway.settings import GatewaySettings


def build_parser() -> argparse.ArgumentParser:
    """All subcommands; heavy modules load only inside the chosen one."""
    parser = argparse.ArgumentParser(prog="aligngate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve(commands)
    from gateway.model_server.cli import add_parser as add_models_parser

    _add_experiments(commands)
    models = commands.add_parser("models", help="Serve the small models (like `vllm serve`).")
    add_models_parser(models.add_subparsers(dest="models_command", required=True))
    _add_plugins(commands)
    return parser


def _add_plugins(commands: Any) -> None:
    """The subcommands other packages declare (rewrite, correct, eval, train...)."""
    from gateway.plugins import COMMAND_GROUP, plugins

    for entry_point in plugins(COMMAND_GROUP).values():
        add_parser: Callable[[Any], object] = entry_point.load()
        add_parser(commands)


def _add_serve(commands: Any) -> None:
    serve = commands.add_parser("serve", help="Run the gateway.")
    serve.add_argument("--config", help="YAML config file (default: the embedded default).")
    serve.add_argument(
        "--upstream", help="Quick mode: send every model to this OpenAI-compatible URL."
    )
    serve.add_argument("--upstream-api-key-env", help="Env var with the upstream's API key.")
    serve.add_argument(
        "--stages",
        help="Stages to run, e.g. 'aligner' or 'bpo,aligner' ('none': none); with --upstream, "
        "the embedded default's BPO/Aligner in front of it.",
    )
    serve.add_argument("--host", help="Interface (default 127.0.0.1).")
    serve.add_argument("--port", type=int, help="Port (default 8000).")
    serve.add_argument(
        "--allow-open-public",
        action="store_true",
        default=None,
        help="Allow open mode (no tenants) on a non-loopback interface.",
    )
    serve.add_argument(
        "--metrics-port", type=int, help="Serve /metrics on this port alone, not on --port."
    )
    serve.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Serve /docs, /redoc, /openapi.json (default: only on a loopback host).",
    )
    serve.add_argument("--log-level", help="debug, info, warning, error.")
    serve.add_argument(
        "--workers", type=int, help="Gateway processes sharing the port (default 1)."
    )
    serve.set_defaults(handler=run_serve)


def _add_experiments(commands: Any) -> None:
    experiments = commands.add_parser("experiments", help="Experiment reports.")
    sub = experiments.add_subparsers(dest="experiments_command", required=True)
    report = sub.add_parser("report", help="Per-arm counts, latency, outcomes, judged rates.")
    report.add_argument("tenant")
    report.add_argument("experiment")
    report.add_argument(
        "--judged", action="append", default=[], help="JSONL of judged samples (repeatable)."
    )
    report.add_argument("--json", action="store_true", help="Print JSON instead of Markdown.")
    report.add_argument(
        "--chart", metavar="PNG", help="Also draw the report as a chart (needs matplotlib)."
    )
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Read the experiment's records from the configured store and print the report."""
    import asyncio
    import json
    from pathlib import Path

    from gateway.report import build_report, load_judged, render
    from gateway.tenants.factory import build_store

    async def records() -> list[Any]:
        store = build_store(load_settings())
        try:
            return list(await store.records(args.tenant, args.experiment))
        finally:
            await store.aclose()

    reports = build_report(asyncio.run(records()), load_judged(Path(p) for p in args.judged))
    if args.chart:
        from gateway.report_chart import render_report_chart

        render_report_chart(args.tenant, args.experiment, reports, Path(args.chart))
    if args.json:
        print(json.dumps([r.model_dump() for r in reports], indent=2))
    else:
        print(render(args.tenant, args.experiment, reports))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Start the gateway with uvicorn; flags override ``ALIGNGATE_`` variables."""
    from gateway.logs import configure_logging
    from gateway.serving import serve
    from gateway.startup import build_gateway

    flags = {
        key: value
        for key, value in vars(args).items()
        if value is not None and key in GatewaySettings.model_fields
    }
    settings = load_settings(**flags)
    if settings.workers > 1:
        from gateway.cli_workers import run_workers

        return run_workers(settings, args.argv)
    quiet_progress_bars()
    configure_logging(settings.log_level, settings.log_json)
    serve(build_gateway(settings), settings)
    return 0


def quiet_progress_bars() -> None:
    """No progress bars in a server's output: its console is its log, one JSON line each.

    transformers draws bars while it converts and loads a model (the first start's
    conversion is announced by a log line instead). tqdm reads ``TQDM_DISABLE`` when it
    is first imported, which in ``serve`` is later, when a model loads; set in the
    environment, either variable wins.
    """
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def load_settings(**flags: Any) -> GatewaySettings:
    """The settings from flags and environment; a bad value is a ``StartupRefused``."""
    from pydantic import ValidationError

    from gateway.startup_checks import StartupRefused

    try:
        return GatewaySettings(**flags)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        name = ".".join(str(part) for part in first["loc"])
        source = f"--{name.replace('_', '-')}" if name in flags else f"ALIGNGATE_{name.upper()}"
        raise StartupRefused(f"setting {name} ({source}): {first['msg']}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    # Idle OpenMP threads otherwise spin and starve the event loop on small machines;
    # it only takes effect if set before torch is first imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for --workers to start copies
    from gateway.config_file import ConfigError
    from gateway.startup_checks import StartupRefused

    try:
        result: int = args.handler(args)
    except (ConfigError, StartupRefused) as exc:
        # A usage error, like argparse's own: one line and status 2, never a traceback.
        print(f"aligngate: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
