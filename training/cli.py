"""`aligngate train bpo|aligner|construct|mistakes|gate ...`: parse a method's config, run it.

``add_parser`` is the ``train`` entry point of the ``aligngate.commands`` group
(pyproject.toml). It registers a stub that hands the method and its flags to
``run``: the methods' parsers (``training.arguments``, transformers'
``HfArgumentParser``) import transformers, which every other ``aligngate`` command,
the gateway's quick mode included, must not pay for. ``python -m training.cli``
runs the same commands on their own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any

from training.config import (
    AlignerTrainingConfig,
    BPOTrainingConfig,
    ConstructionConfig,
    MistakesConfig,
)

Handler = Callable[[argparse.Namespace], int]
METHODS = "{bpo,aligner,construct,mistakes,gate}"


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``train`` on ``commands``; its methods' flags are parsed when it runs."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "train",
        help="Fine-tune the BPO rewriter or the Aligner corrector (LoRA), build their data, "
        "train the risk gate.",
        usage=f"%(prog)s {METHODS} ... (see %(prog)s METHOD --help)",
        description="Methods: bpo, aligner (LoRA fine-tuning), construct (BPO pairs), "
        "mistakes (Aligner triples), gate (the risk gate's heads). Each takes --config FILE.",
    )
    parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="METHOD ...")
    parser.set_defaults(handler=lambda namespace: run(namespace.arguments, parser.prog))
    return parser


def build_parser(prog: str = "aligngate train") -> argparse.ArgumentParser:
    """The methods' parsers, one ``HfArgumentParser`` per config dataclass."""
    from training.arguments import ConfigFileParser
    from training.gate_cli import add_parser as add_gate_parser

    parser = argparse.ArgumentParser(prog=prog)
    methods = parser.add_subparsers(dest="method", required=True, parser_class=ConfigFileParser)
    commands: list[tuple[str, type[Any], Handler]] = [
        ("bpo", BPOTrainingConfig, _run_bpo),
        ("aligner", AlignerTrainingConfig, _run_aligner),
        ("construct", ConstructionConfig, _run_construction),
        ("mistakes", MistakesConfig, _run_mistakes),
    ]
    for name, config_type, handler in commands:
        method = methods.add_parser(name, dataclass_types=config_type, help=config_type.__doc__)
        method.set_defaults(handler=handler)
    add_gate_parser(methods)
    return parser


def run(argv: Sequence[str], prog: str = "aligngate train") -> int:
    """Parse one method's flags and run it."""
    namespace = build_parser(prog).parse_args(argv)
    handler: Handler = namespace.handler
    return handler(namespace)


def _run_bpo(namespace: argparse.Namespace) -> int:
    from training.arguments import config_from_namespace
    from training.methods import train_bpo

    report = train_bpo(config_from_namespace(BPOTrainingConfig, namespace))
    print(report.model_dump_json())
    return 0


def _run_aligner(namespace: argparse.Namespace) -> int:
    from training.arguments import config_from_namespace
    from training.methods import train_aligner

    report = train_aligner(config_from_namespace(AlignerTrainingConfig, namespace))
    print(report.model_dump_json())
    return 0


def _run_construction(namespace: argparse.Namespace) -> int:
    from training.arguments import config_from_namespace
    from training.data_commands import run_construction

    result = asyncio.run(run_construction(config_from_namespace(ConstructionConfig, namespace)))
    print(f"{len(result.pairs)} pairs written, {len(result.dropped)} dropped")
    return 0


def _run_mistakes(namespace: argparse.Namespace) -> int:
    from training.arguments import config_from_namespace
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
