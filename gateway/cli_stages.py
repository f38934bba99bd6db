"""What the stage plug-ins' commands (``rewrite``, ``correct``) share: flags, and one stage
built from the config outside a running gateway."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.config import GatewayConfig, load_config
from gateway.engines.base import Engine
from gateway.engines.registry import build_engine
from gateway.pipeline.registry import default_stage_builders


def add_stage_options(parser: argparse.ArgumentParser, kind: str) -> None:
    """``--config`` and ``--stage`` flags shared by the stage commands."""
    parser.add_argument("--config", help="YAML config file (default: the embedded default).")
    parser.add_argument(
        "--stage", help=f"Stage name in the config (default: the first of kind '{kind}')."
    )


def stage_from_args(args: argparse.Namespace, kind: str) -> tuple[Any, Engine]:
    """Build the chosen stage and its engine from the command's flags."""
    from gateway.startup import embedded_config_path

    config = load_config(Path(args.config) if args.config else embedded_config_path())
    name = args.stage or _first_of_kind(config, kind)
    stage_config = config.stages[name]
    engine = build_engine(config.engines[stage_config.engine])
    stage = default_stage_builders()[kind](name, stage_config, engine)
    return stage, engine


def _first_of_kind(config: GatewayConfig, kind: str) -> str:
    for name, stage in config.stages.items():
        if stage.kind == kind:
            return name
    raise SystemExit(f"aligngate: the config has no stage of kind '{kind}'")
