"""``aligngate rewrite PROMPT``: print the BPO rewrite of a prompt."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bpo.guards import rejection_reason
from gateway.cli_stages import add_stage_options, stage_from_args


def add_parser(commands: Any) -> None:
    """Register the ``rewrite`` subcommand."""
    parser = commands.add_parser("rewrite", help="Print the BPO rewrite of a prompt.")
    parser.add_argument("prompt", help="The prompt to rewrite.")
    add_stage_options(parser, "bpo")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Rewrite the prompt and print it; say on stderr if the gateway would keep the original."""
    return asyncio.run(_rewrite(args))


async def _rewrite(args: argparse.Namespace) -> int:
    stage, engine = stage_from_args(args, "bpo")
    try:
        rewrite: str = await stage.rewrite(args.prompt)
    finally:
        await engine.aclose()
    print(rewrite)
    reason = rejection_reason(args.prompt, rewrite)
    if reason is not None:
        print(f"(the gateway would keep the original prompt: {reason})", file=sys.stderr)
    return 0
