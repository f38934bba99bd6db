"""``aligngate correct --question Q --answer A``: print the Aligner's correction."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from gateway.cli_stages import add_stage_options, stage_from_args


def add_parser(commands: Any) -> None:
    """Register the ``correct`` subcommand."""
    parser = commands.add_parser("correct", help="Print the Aligner's correction of an answer.")
    parser.add_argument("--question", required=True, help="The user's question.")
    parser.add_argument("--answer", required=True, help="The answer to correct.")
    add_stage_options(parser, "aligner")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Correct the answer and print the correction."""
    return asyncio.run(_correct(args))


async def _correct(args: argparse.Namespace) -> int:
    stage, engine = stage_from_args(args, "aligner")
    try:
        correction: str = await stage.correct(args.question, args.answer)
    finally:
        await engine.aclose()
    print(correction)
    return 0
