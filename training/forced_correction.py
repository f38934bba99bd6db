"""Aligner adapters compared with the gate out of the way: every answer is corrected.

The replay measures the default as shipped, where the gate keeps most benign answers
from the Aligner; this asks what each adapter does to the benign answers it is given
anyway (a gate's false alarm, or a tenant with ``gate: always``): does it keep them,
or turn them into refusals? Same answers, same greedy decoding, one engine holding
every adapter.

    python -m training.forced_correction --answers /work/onpolicy/risky_benign_dev.jsonl \\
        --adapter shipped=gateway/defaults/adapters/aligner --adapter new=/tmp/aligner
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aligner.prompts import chat_messages
from evaluation.intervals import share
from evaluation.judges.refusal_markers import RefusalMarkerJudge
from gateway.engines.base import Engine, GenerationRequest

MAX_TOKENS = 160


async def corrections(engine: Engine, adapter: str, pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The adapter's greedy correction of each (question, answer) pair."""
    requests = [
        GenerationRequest(
            messages=chat_messages(question, answer), adapter=adapter, max_tokens=MAX_TOKENS
        )
        for question, answer in pairs
    ]
    return [result.text for result in await engine.generate(requests)]


def summary(answers: Sequence[str], corrected: Sequence[str]) -> dict[str, str]:
    """Refusals (markers) among the corrections, and answers kept word for word."""
    markers = RefusalMarkerJudge()
    refused = sum(markers.is_refusal(text) for text in corrected)
    kept = sum(a.strip() == c.strip() for a, c in zip(answers, corrected, strict=True))
    return {
        "refused": str(share(refused, len(corrected))),
        "refused_before": str(share(sum(markers.is_refusal(a) for a in answers), len(answers))),
        "kept_unchanged": str(share(kept, len(corrected))),
    }


async def compare(engine: Engine, adapters: Sequence[str], pairs: Sequence[tuple[str, str]]) -> Any:
    """Per adapter: its summary over the same pairs."""
    answers = [answer for _, answer in pairs]
    return {name: summary(answers, await corrections(engine, name, pairs)) for name in adapters}


def main(argv: Sequence[str] | None = None) -> int:
    """Correct every answer of the files with each adapter and print the shares as JSON."""
    parser = argparse.ArgumentParser(prog="python -m training.forced_correction")
    parser.add_argument(
        "--answers",
        type=Path,
        nargs="+",
        required=True,
        help="JSONL files of {prompt, answer} (training.data.onpolicy output).",
    )
    parser.add_argument("--adapter", action="append", required=True, metavar="NAME=DIR")
    args = parser.parse_args(argv)
    from gateway.engines.config import TransformersEngineConfig
    from gateway.engines.transformers_engine import TransformersEngine

    rows = [json.loads(line) for path in args.answers for line in path.read_text().splitlines()]
    pairs = [(str(row["prompt"]), str(row["answer"])) for row in rows if line_ok(row)]
    adapters = dict(spec.split("=", 1) for spec in args.adapter)
    engine = TransformersEngine(TransformersEngineConfig(adapters=adapters, max_batch_size=16))
    engine.load()

    async def run() -> Any:
        await engine.start()
        try:
            return await compare(engine, list(adapters), pairs)
        finally:
            await engine.aclose()

    print(json.dumps({"n": len(pairs), **asyncio.run(run())}, indent=1))
    return 0


def line_ok(row: dict[str, Any]) -> bool:
    """A row with a prompt and an answer to correct."""
    return bool(row.get("prompt")) and bool(row.get("answer"))


if __name__ == "__main__":
    sys.exit(main())
