"""`aligngate train bpo|aligner ...`: parse a method's config and train it.

``add_parser`` is the ``train`` entry point of the ``aligngate.commands`` group
(pyproject.toml); ``python -m training.cli`` runs the same commands on their own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any

from training.arguments import add_dataclass_arguments, config_from_namespace
from training.config import (
    AlignerTrainingConfig,
    BPOTrainingConfig,
    ConstructionConfig,
    MistakesConfig,
)

Handler = Callable[[argparse.Namespace], int]


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``train`` with its ``bpo`` and ``aligner`` subcommands on ``commands``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "train", help="Fine-tune the BPO rewriter or the Aligner corrector (LoRA)."
    )
    methods = parser.add_subparsers(dest="method", required=True)
    bpo = methods.add_parser("bpo", help=BPOTrainingConfig.__doc__)
    add_dataclass_arguments(bpo, BPOTrainingConfig)
    bpo.set_defaults(handler=_run_bpo)
    aligner = methods.add_parser("aligner", help=AlignerTrainingConfig.__doc__)
    add_dataclass_arguments(aligner, AlignerTrainingConfig)
    aligner.set_defaults(handler=_run_aligner)
    construct = methods.add_parser("construct", help=ConstructionConfig.__doc__)
    add_dataclass_arguments(construct, ConstructionConfig)
    construct.set_defaults(handler=_run_construction)
    mistakes = methods.add_parser("mistakes", help=MistakesConfig.__doc__)
    add_dataclass_arguments(mistakes, MistakesConfig)
    mistakes.set_defaults(handler=_run_mistakes)
    from training.gate_cli import add_parser as add_gate_parser

    add_gate_parser(methods)
    return parser


def _run_bpo(namespace: argparse.Namespace) -> int:
    from training.methods import train_bpo

    report = train_bpo(config_from_namespace(BPOTrainingConfig, namespace))
    print(report.model_dump_json())
    return 0


def _run_aligner(namespace: argparse.Namespace) -> int:
    from training.methods import train_aligner

    report = train_aligner(config_from_namespace(AlignerTrainingConfig, namespace))
    print(report.model_dump_json())
    return 0


def _run_construction(namespace: argparse.Namespace) -> int:
    from training.data_commands import run_construction

    result = asyncio.run(run_construction(config_from_namespace(ConstructionConfig, namespace)))
    print(f"{len(result.pairs)} pairs written, {len(result.dropped)} dropped")
    return 0


def _run_mistakes(namespace: argparse.Namespace) -> int:
    from training.data_commands import run_mistakes

    records = asyncio.run(run_mistakes(config_from_namespace(MistakesConfig, namespace)))
    print(f"{len(records)} triples written")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m training.cli train ...``."""
    parser = argparse.ArgumentParser(prog="python -m training.cli")
    add_parser(parser.add_subparsers(dest="command", required=True))
    namespace = parser.parse_args(argv)
    handler: Handler = namespace.handler
    return handler(namespace)


if __name__ == "__main__":
    sys.exit(main())
