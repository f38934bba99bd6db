"""The backend's own answers: what the Aligner and the answer gate meet when serving.

The Aligner and the answer gate learn from the embedded backend's answers (greedy, the
default backend's chat template), not only from the curated answers of the shared
data: benign answers become identity pairs and safe items, compliant answers to
harmful prompts become pairs to correct and risky items.

    python -m training.data.onpolicy --data-dir ../shared/data --out ~/.cache/aligngate/onpolicy

Generation appends to one JSONL file per prompt set and resumes where it stopped, so a
long CPU run survives being killed; the rows are derived from the shared data and a
model's samples, so they live outside the project.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from gateway.engines.base import ChatTurn, Engine, GenerationRequest

if TYPE_CHECKING:
    from gateway.engines.llamacpp_engine import LlamaCppEngine
    from gateway.engines.transformers_engine import TransformersEngine

BATCH = 16
MAX_TOKENS = 160  # long enough to tell a refusal from compliance; the backend's default is 256


class Prompt(BaseModel):
    """One prompt of a set, with the id it is resumed by."""

    id: str
    prompt: str


class AnsweredPrompt(Prompt):
    """A prompt with the backend's greedy answer."""

    answer: str
    completion_tokens: int


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """The rows of a JSONL file ([] when it does not exist yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def shared_prompt_sets(
    data_dir: Path, extra: Sequence[Path] = (), splits: Sequence[str] = ("dev", "train")
) -> dict[str, list[Prompt]]:
    """The prompt sets: Do-Not-Answer train/dev questions, and any extra JSONL prompt files.

    An extra file's rows need ``id`` and ``prompt``; its set is named after the file. The
    extra sets come first: they are smaller and more varied than Do-Not-Answer's.
    """
    sets = {path.stem: [Prompt.model_validate(row) for row in read_jsonl(path)] for path in extra}
    for split in splits:
        rows = read_jsonl(data_dir / "aligner" / f"dna_qac_{split}.jsonl")
        sets[f"dna_{split}"] = [Prompt(id=str(r["id"]), prompt=str(r["question"])) for r in rows]
    return sets


async def answer_set(engine: Engine, prompts: Sequence[Prompt], out: Path, max_tokens: int) -> int:
    """Answer the prompts not yet in ``out``, appending a batch at a time; the count added."""
    done = {str(row["id"]) for row in read_jsonl(out)}
    todo = [p for p in prompts if p.id not in done]
    out.parent.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        requests = [
            GenerationRequest(
                messages=[ChatTurn(role="user", content=p.prompt)], max_tokens=max_tokens
            )
            for p in batch
        ]
        results = await engine.generate(requests)
        with out.open("a", encoding="utf-8") as handle:
            for prompt, result in zip(batch, results, strict=True):
                row = AnsweredPrompt(
                    **prompt.model_dump(),
                    answer=result.text.strip(),
                    completion_tokens=result.completion_tokens,
                )
                handle.write(row.model_dump_json() + "\n")
        print(f"{out.name}: {len(done) + start + len(batch)}/{len(prompts)}", flush=True)
    return len(todo)


def backend_engine(kind: str) -> LlamaCppEngine | TransformersEngine:
    """The embedded backend on the engine it is served by (no adapters: the backend's own)."""
    if kind == "llamacpp":
        from gateway.engines.config import LlamaCppEngineConfig
        from gateway.engines.llamacpp_engine import LlamaCppEngine

        return LlamaCppEngine(LlamaCppEngineConfig(parallel=BATCH))
    from gateway.engines.transformers_engine import TransformersEngine

    return TransformersEngine()


async def run(
    data_dir: Path,
    out_dir: Path,
    extra: Sequence[Path],
    max_tokens: int,
    engine_kind: str = "transformers",
    splits: Sequence[str] = ("dev", "train"),
) -> None:
    """Answer every set into ``out_dir/<set>.jsonl``."""
    engine = backend_engine(engine_kind)
    await engine.start()
    try:
        for name, prompts in shared_prompt_sets(data_dir, extra, splits).items():
            await answer_set(engine, prompts, out_dir / f"{name}.jsonl", max_tokens)
    finally:
        await engine.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m training.data.onpolicy``."""
    parser = argparse.ArgumentParser(prog="python -m training.data.onpolicy")
    parser.add_argument("--data-dir", type=Path, required=True, help="The shared data folder.")
    parser.add_argument("--out", type=Path, required=True, help="Folder of the answer files.")
    parser.add_argument(
        "--prompts", type=Path, nargs="*", default=[], help="Extra JSONL files of id/prompt rows."
    )
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument(
        "--engine",
        choices=["transformers", "llamacpp"],
        default="transformers",
        help="The engine serving the backend (their greedy answers differ).",
    )
    parser.add_argument(
        "--splits", nargs="+", default=["dev", "train"], help="Do-Not-Answer splits to answer."
    )
    args = parser.parse_args(argv)
    asyncio.run(
        run(args.data_dir, args.out, args.prompts, args.max_tokens, args.engine, args.splits)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
