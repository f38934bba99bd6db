"""``aligngate train gate``: generate (or read) the backend's texts, train, save, report.

The heads and their training live in ``training.gate``; this module is the command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from training.data.gate_sets import (
    AnswerItem,
    PromptItem,
    dev_answers,
    dev_prompts,
    onpolicy_answers,
    own_prompts,
)
from training.gate import (
    QUESTION_ANSWER_TOKENS,
    _jsonl,
    dev_data,
    evaluate,
    train_heads,
    training_data,
)


@dataclass
class BackendTexts:
    """What the embedded backend wrote for the gate: dev answers and benign training pairs."""

    vicuna_answers: list[dict[str, Any]]
    questions: list[str]
    question_answers: list[dict[str, Any]]


async def backend_texts(data_dir: Path, cache: Path, max_tokens: int) -> BackendTexts:
    """The embedded model's texts for the gate, each cached as JSON under ``cache``.

    Derived from the shared data and from a model's samples, so they live outside the
    project (``~/.cache/aligngate`` by default) and are never shipped.
    """
    from gateway.engines.transformers_engine import TransformersEngine
    from training.data.gate_questions import answer_sample, backend_answers, benign_questions

    engine: TransformersEngine | None = None

    async def started() -> TransformersEngine:
        nonlocal engine
        if engine is None:
            engine = TransformersEngine()
            await engine.start()
        return engine

    async def cached(name: str, make: Callable[[], Awaitable[Any]]) -> Any:
        path = cache / name
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        value = await make()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value, indent=1), encoding="utf-8")
        return value

    async def vicuna() -> list[dict[str, Any]]:
        prompts = [row["text"] for row in _jsonl(data_dir / "bpo" / "vicuna_eval.jsonl")]
        return await backend_answers(await started(), prompts, max_tokens)

    async def questions() -> list[str]:
        return await benign_questions(await started())

    try:
        asked: list[str] = await cached("gate_questions.json", questions)

        async def question_answers() -> list[dict[str, Any]]:
            sample = answer_sample(asked)
            return await backend_answers(await started(), sample, QUESTION_ANSWER_TOKENS)

        return BackendTexts(
            vicuna_answers=await cached(f"vicuna_answers_{max_tokens}.json", vicuna),
            questions=asked,
            question_answers=await cached("gate_question_answers.json", question_answers),
        )
    finally:
        if engine is not None:
            await engine.aclose()


def add_parser(commands: Any) -> None:
    """Register ``gate`` under ``aligngate train``."""
    parser = commands.add_parser("gate", help="Train the prompt and answer risk gates.")
    parser.add_argument("--data-dir", type=Path, required=True, help="The shared data folder.")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(str(files("gateway.gate").joinpath("heads"))),
        help="Where the heads, the card metrics and the ROC PNG go.",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path.home() / ".cache" / "aligngate",
        help="Where the backend's generated texts are kept between runs (made if missing).",
    )
    parser.add_argument("--max-tokens", type=int, default=128, help="For the Vicuna answers.")
    parser.add_argument(
        "--trunk",
        choices=["transformers", "llamacpp"],
        default="transformers",
        help="Whose vectors the heads learn (gate.trunk); the llama.cpp trunk's heads are "
        "written as prompt_gate_llamacpp.npz, answer_gate_llamacpp.npz, metrics_llamacpp.json "
        "and roc_llamacpp.png.",
    )
    parser.add_argument(
        "--answers-dir",
        type=Path,
        default=None,
        help="The backend's answers to the prompt sets (python -m training.data.onpolicy); "
        "without it the answer head learns from curated answers only.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train, save, evaluate on dev, and print the report."""
    from dataclasses import replace

    from gateway.gate.risk_gate import make_trunk, shipped_head, trunk_card
    from training.feature_cache import CachedEmbedder

    texts = asyncio.run(backend_texts(args.data_dir, args.cache_dir, args.max_tokens))
    # The heads must see the vectors the gateway's gate computes.
    vectors = {"transformers": "gate_trunk_vectors.npz", "llamacpp": "gate_llamacpp_trunk.npz"}
    embedder = CachedEmbedder(make_trunk(args.trunk), args.cache_dir / vectors[args.trunk])
    own: list[PromptItem | AnswerItem] = [*own_prompts()]
    dev_own: list[PromptItem | AnswerItem] = [*dev_prompts()]
    if args.answers_dir is not None:
        own += onpolicy_answers(args.answers_dir)
        dev_own += dev_answers(args.answers_dir)
    data = training_data(args.data_dir, texts.question_answers, texts.questions, own)
    card = trunk_card(args.trunk)
    prompt_head, answer_head = train_heads(embedder, data)
    heads = (replace(prompt_head, card=card), replace(answer_head, card=card))
    args.out.mkdir(parents=True, exist_ok=True)

    def named(name: str) -> Path:  # the file names the gateway looks for, per trunk
        return Path(args.out) / shipped_head(name, args.trunk).name

    heads[0].save(named("prompt_gate.npz"))
    heads[1].save(named("answer_gate.npz"))
    dev = dev_data(args.data_dir, texts.vicuna_answers, dev_own)
    report = evaluate(embedder, heads, dev, named("roc.png"))
    report["prompt_gate"]["by_set"] = _through_by_set(embedder, heads[0], dev_own)
    report["answer_gate"]["sweep"] = _answer_sweep(embedder, heads, dev_own, texts, args.data_dir)
    named("metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


def _through_by_set(
    embedder: Any, head: Any, items: list[PromptItem | AnswerItem]
) -> dict[str, float]:
    """The share of each own dev prompt set that the prompt gate sends to the stage."""
    import numpy as np

    from training.gate import prompt_matrix

    report = {}
    for source in sorted({i.source for i in items if isinstance(i, PromptItem)}):
        texts = [i.text for i in items if isinstance(i, PromptItem) and i.source == source]
        scores = head.scores(prompt_matrix(embedder, texts), texts)
        report[source] = round(float(np.mean(scores >= head.threshold)), 4)
    return report


SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7)


def _answer_sweep(
    embedder: Any,
    heads: Any,
    items: list[PromptItem | AnswerItem],
    texts: Any,
    data_dir: Path,
) -> dict[str, dict[str, float]]:
    """The share of each dev answer set the answer gate sends to the Aligner, per cut-off.

    Sets: the backend's answers to Vicuna (benign), to our risky-looking benign prompts,
    and its compliant answers and refusals to the harmful dev prompts. The cut-off for
    serving is chosen from this (a stage's ``gate_threshold``), not from the training
    data's cross-validation alone: at 95% recall there, too many benign answers go.
    """
    import numpy as np

    from gateway.gate.risk_gate import ANSWER_THRESHOLD
    from training.gate import answer_scores

    dna = _jsonl(data_dir / "aligner" / "dna_qac_dev.jsonl")
    sets: dict[str, list[tuple[str, str]]] = {
        "vicuna (benign)": [(r["question"], r["answer"]) for r in texts.vicuna_answers],
        "dna_dev curated (harmful)": [(r["question"], r["harmful_answer"]) for r in dna],
        "dna_dev curated (safe)": [(r["question"], r["safe_answer"]) for r in dna],
    }
    for item in items:
        if isinstance(item, AnswerItem):
            kind = (
                "benign"
                if item.source.startswith("risky_benign")
                else ("complies" if item.label else "refuses")
            )
            sets.setdefault(f"{item.source} ({kind})", []).append((item.question, item.answer))
    report = {}
    for name, pairs in sorted(sets.items()):
        scores = answer_scores(embedder, heads, pairs)
        cuts = {"shipped": ANSWER_THRESHOLD, **{str(c): c for c in SWEEP}}
        report[f"{name}, n={len(pairs)}"] = {
            label: round(float(np.mean(scores >= cut)), 4) for label, cut in cuts.items()
        }
    return report
