"""Dev-split metrics of the trained adapters, with the embedded model on CPU.

    python -m training.evaluate bpo --adapter gateway/defaults/adapters/bpo ...
    python -m training.evaluate aligner --adapter gateway/defaults/adapters/aligner ...

BPO: on the held-back BPO pairs, the share of rewrites closer (MiniLM cosine) to
the reference optimized prompt than the original prompt is, and the share
returned unchanged. Aligner: with the base model as the backend, the share of
harmful answers to ``dna_qac_dev.jsonl`` questions before and after correction
(offline MiniLM judge, refusal markers alongside), and on ``vicuna_eval.jsonl``
the share of benign answers turned into refusals and how much of them is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from gateway.engines.base import GenerationRequest
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.transformers_engine import TransformersEngine
from training.data import aligner as aligner_data
from training.data import bpo as bpo_data
from training.metrics import (
    AlignerReport,
    BPOReport,
    QuestionAnswer,
    aligner_report,
    bpo_report,
)

BATCH = 16


class VicunaRecord(BaseModel):
    """One row of ``vicuna_eval.jsonl``."""

    question_id: int
    text: str
    category: str


async def generate_batched(
    engine: TransformersEngine, requests: Sequence[GenerationRequest]
) -> list[str]:
    """Texts for every request, ``BATCH`` at a time (bounded memory and latency)."""
    texts: list[str] = []
    for start in range(0, len(requests), BATCH):
        results = await engine.generate(requests[start : start + BATCH])
        texts.extend(result.text.strip() for result in results)
        print(f"generated {len(texts)}/{len(requests)}", file=sys.stderr, flush=True)
    return texts


async def evaluate_bpo(arguments: argparse.Namespace) -> BPOReport:
    """Rewrite the held-back prompts with the adapter and score them against the references."""
    from bpo.prompts import chat_messages

    records = bpo_data.read_records(Path(p) for p in arguments.pairs_files)
    dev = bpo_data.split_records(records, arguments.dev_fraction, arguments.split_seed).dev
    pairs = bpo_data.prompt_pairs(dev)
    engine = _engine(arguments.model, {"bpo": arguments.adapter})
    try:
        requests = [
            GenerationRequest(
                messages=chat_messages(p.prompt), adapter="bpo", max_tokens=arguments.max_tokens
            )
            for p in pairs
        ]
        rewrites = await generate_batched(engine, requests)
    finally:
        await engine.aclose()
    return bpo_report(pairs, rewrites)


def dev_questions(arguments: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(harmful questions of the DNA dev split, benign Vicuna questions)."""
    harmful = [r.question for r in aligner_data.read_dna(Path(arguments.dna_dev))]
    lines = Path(arguments.vicuna).read_text().splitlines()
    benign = [VicunaRecord.model_validate_json(x).text for x in lines if x.strip()]
    return harmful, benign


async def generate_answers(arguments: argparse.Namespace) -> int:
    """Only the backend's answers, into ``--answers-cache`` (reused by ``aligner``)."""
    harmful, benign = dev_questions(arguments)
    engine = _engine(arguments.model, {})
    try:
        answers = await _answers(engine, harmful + benign, arguments)
    finally:
        await engine.aclose()
    return len(answers)


async def evaluate_aligner(arguments: argparse.Namespace) -> AlignerReport:
    """Answer dev questions with the base model, correct the answers, judge both."""
    harmful_questions, benign_questions = dev_questions(arguments)
    engine = _engine(arguments.model, {"aligner": arguments.adapter})
    try:
        questions = harmful_questions + benign_questions
        answers = await _answers(engine, questions, arguments)
        corrections = await _corrections(engine, questions, answers, arguments.max_tokens)
    finally:
        await engine.aclose()
    split = len(harmful_questions)
    rows = [
        QuestionAnswer(question=q, answer=a, correction=c)
        for q, a, c in zip(questions, answers, corrections, strict=True)
    ]
    return await aligner_report(rows[:split], rows[split:])


async def _answers(
    engine: TransformersEngine, questions: list[str], arguments: argparse.Namespace
) -> list[str]:
    """The backend's answers, reused from ``--answers-cache`` when it holds these questions."""
    from gateway.engines.base import ChatTurn

    cache = Path(arguments.answers_cache) if arguments.answers_cache else None
    if cache is not None and cache.is_file():
        stored = json.loads(cache.read_text())
        if stored.get("questions") == questions:
            return list(stored["answers"])
    requests = [
        GenerationRequest(
            messages=[ChatTurn(role="user", content=q)], max_tokens=arguments.answer_tokens
        )
        for q in questions
    ]
    answers = await generate_batched(engine, requests)
    if cache is not None:
        cache.write_text(json.dumps({"questions": questions, "answers": answers}))
    return answers


async def _corrections(
    engine: TransformersEngine, questions: list[str], answers: list[str], max_tokens: int
) -> list[str]:
    from aligner.prompts import chat_messages

    requests = [
        GenerationRequest(messages=chat_messages(q, a), adapter="aligner", max_tokens=max_tokens)
        for q, a in zip(questions, answers, strict=True)
    ]
    return await generate_batched(engine, requests)


def _engine(model: str, adapters: dict[str, str]) -> TransformersEngine:
    config = TransformersEngineConfig(model=model, adapters=adapters, max_batch_size=BATCH)
    return TransformersEngine(config)


def build_parser() -> argparse.ArgumentParser:
    """The ``bpo`` and ``aligner`` evaluation commands."""
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__)
    methods = parser.add_subparsers(dest="method", required=True)
    bpo = methods.add_parser("bpo", help="BPO adapter on the held-back BPO pairs.")
    bpo.add_argument("--pairs-files", nargs="+", required=True, help="BPO pair files.")
    bpo.add_argument("--dev-fraction", type=float, default=0.1, help="As in training.")
    bpo.add_argument("--split-seed", type=int, default=0, help="As in training.")
    bpo.add_argument("--model", default="embedded:smollm2", help="Base model reference.")
    aligner = methods.add_parser("aligner", help="Aligner adapter on DNA dev and Vicuna.")
    answers = methods.add_parser("answers", help="Only the backend answers for `aligner`.")
    for sub in (aligner, answers):
        sub.add_argument("--dna-dev", required=True, help="dna_qac_dev.jsonl")
        sub.add_argument("--vicuna", required=True, help="vicuna_eval.jsonl")
        sub.add_argument("--answer-tokens", type=int, default=128, help="Backend answer cap.")
        sub.add_argument("--answers-cache", help="JSON file keeping the backend's answers.")
        sub.add_argument("--model", default="embedded:smollm2", help="Base model reference.")
    for sub in (bpo, aligner):
        sub.add_argument("--adapter", required=True, help="Adapter directory to evaluate.")
        sub.add_argument("--max-tokens", type=int, default=160, help="Rewrite/correction cap.")
        sub.add_argument("--out", help="Write the report (with every example) to this JSON file.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one evaluation and print its summary."""
    arguments = build_parser().parse_args(argv)
    if arguments.method == "answers":
        print(f"{asyncio.run(generate_answers(arguments))} answers in {arguments.answers_cache}")
        return 0
    report: BPOReport | AlignerReport
    if arguments.method == "bpo":
        report = asyncio.run(evaluate_bpo(arguments))
    else:
        report = asyncio.run(evaluate_aligner(arguments))
    if arguments.out:
        Path(arguments.out).write_text(report.model_dump_json(indent=1))
    print(report.summary().model_dump_json(indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
