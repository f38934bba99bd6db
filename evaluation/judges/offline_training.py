"""Train and measure the offline judge's head.

Harmful: the harmful answers of ``aligner/dna_qac_train.jsonl``. Not harmful: its
safe answers and the BPO pairs' good responses (all but a held-out share, kept
to measure false harm on benign answers). Without the BPO responses the negative
class would be refusals only, and the head would learn to detect refusals, not harm.

    python -m evaluation.judges.offline_training --data-dir ../shared/data \
        --out evaluation/judges/offline_head.npz
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evaluation.embeddings import MiniLmEmbedder
from evaluation.judges.base import JudgeItem
from evaluation.judges.offline import (
    DEFAULT_HEAD_PATH,
    FeatureMode,
    OfflineClassifierJudge,
    featurize,
)
from gateway.gate.head_training import HeadFit, fit_logistic_head
from gateway.gate.heads import HeadCard, LogisticHead


class DnaRow(BaseModel):
    """A Do-Not-Answer question with a safe and a harmful answer."""

    id: int
    category: str
    question: str
    safe_answer: str
    harmful_answer: str


class BpoPair(BaseModel):
    """A BPO preference pair; only the prompt and the good response are used here."""

    model_config = ConfigDict(extra="ignore")

    prompt: str | None = None
    instruction: str | None = None
    context: str | None = None
    good_res: str

    @property
    def question(self) -> str:
        """The user prompt, with its context when it has one."""
        text = self.prompt or self.instruction or ""
        return f"{text}\n{self.context}" if self.context else text


class LabelledAnswer(BaseModel):
    """A question, an answer and whether the answer is harmful."""

    question: str
    answer: str
    harmful: bool
    weight: float = Field(default=1.0, description="Sample weight in training.")


class TrainingData(BaseModel):
    """Training examples plus benign BPO answers held out for the false-harm rate."""

    train: list[LabelledAnswer]
    heldout_benign: list[LabelledAnswer]


def read_dna(path: Path) -> list[DnaRow]:
    """Rows of a ``dna_qac_*.jsonl`` file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [DnaRow.model_validate_json(line) for line in lines if line.strip()]


def dna_examples(rows: Sequence[DnaRow]) -> list[LabelledAnswer]:
    """Each row's harmful answer (harmful) and safe answer (not harmful)."""
    examples: list[LabelledAnswer] = []
    for row in rows:
        examples.append(
            LabelledAnswer(question=row.question, answer=row.harmful_answer, harmful=True)
        )
        examples.append(
            LabelledAnswer(question=row.question, answer=row.safe_answer, harmful=False)
        )
    return examples


def load_training_data(
    data_dir: Path, holdout: float = 0.2, seed: int = 0, benign_weight: float = 2.0
) -> TrainingData:
    """DNA train examples plus BPO good responses, with a seeded held-out share of the latter.

    The BPO responses weigh ``benign_weight`` each: they are the only ordinary helpful
    answers, so they keep the head from calling every non-refusal harmful."""
    benign: list[LabelledAnswer] = []
    for name in ("prompt_pairs_200.json", "prompt_pairs_300.json"):
        raw = json.loads((data_dir / "bpo" / name).read_text(encoding="utf-8"))
        for pair in (BpoPair.model_validate(item) for item in raw):
            benign.append(
                LabelledAnswer(question=pair.question, answer=pair.good_res, harmful=False)
            )
    random.Random(seed).shuffle(benign)
    cut = int(len(benign) * holdout)
    weighted = [e.model_copy(update={"weight": benign_weight}) for e in benign[cut:]]
    train = dna_examples(read_dna(data_dir / "aligner" / "dna_qac_train.jsonl")) + weighted
    return TrainingData(train=train, heldout_benign=benign[:cut])


def train_head(
    embedder: MiniLmEmbedder,
    examples: Sequence[LabelledAnswer],
    features: FeatureMode = "question_answer",
    regularization_c: float = 3.0,
) -> LogisticHead:
    """Fit a logistic regression, weighted per example, on the examples' embeddings."""
    items = [JudgeItem(question=e.question, answer=e.answer) for e in examples]
    labels = np.array([e.harmful for e in examples], dtype=np.int64)
    weights = np.array([e.weight for e in examples], dtype=np.float64)
    card = HeadCard(
        features=features,
        train_examples=len(examples),
        train_harmful=int(labels.sum()),
        regularization_c=regularization_c,
    )
    rows = featurize(embedder, items, features)
    fit = HeadFit(c=regularization_c, max_iter=5000)
    return fit_logistic_head(rows, labels, fit, sample_weight=weights, card=card)


def harmful_share(judge: OfflineClassifierJudge, examples: Sequence[LabelledAnswer]) -> float:
    """Share of the examples the judge calls harmful."""
    if not examples:
        return float("nan")
    items = [JudgeItem(question=e.question, answer=e.answer) for e in examples]
    return float(np.mean(judge.probabilities(items) >= judge.head.threshold))


def measure(
    judge: OfflineClassifierJudge,
    dev: Sequence[DnaRow],
    benign: dict[str, Sequence[LabelledAnswer]],
) -> dict[str, float]:
    """Accuracy on the dev rows' harmful and safe answers, and false harm on benign sets."""
    harmful = [e for e in dna_examples(dev) if e.harmful]
    safe = [e for e in dna_examples(dev) if not e.harmful]
    recall, false_harm_safe = harmful_share(judge, harmful), harmful_share(judge, safe)
    metrics = {
        "dev_accuracy": (recall * len(harmful) + (1 - false_harm_safe) * len(safe))
        / (len(harmful) + len(safe)),
        "dev_harmful_recall": recall,
        "dev_safe_accuracy": 1 - false_harm_safe,
    }
    for name, examples in benign.items():
        metrics[f"false_harm_rate_{name}"] = harmful_share(judge, examples)
        metrics[f"n_{name}"] = float(len(examples))
    return metrics


def read_benign_answers(path: Path) -> list[LabelledAnswer]:
    """Benign answers from a JSONL file with ``question`` and ``answer`` fields."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [LabelledAnswer(**json.loads(line), harmful=False) for line in lines if line.strip()]


def run_training(args: argparse.Namespace) -> int:
    """Train, measure on the dev split and benign sets, save the head; print the metrics."""
    data = load_training_data(args.data_dir, benign_weight=args.benign_weight)
    embedder = MiniLmEmbedder()
    head = train_head(embedder, data.train, args.features, args.c)
    card = head.card
    assert card is not None  # train_head writes one
    card.benign_weight = args.benign_weight
    judge = OfflineClassifierJudge(embedder=embedder, head=head)
    benign: dict[str, Sequence[LabelledAnswer]] = {"bpo_heldout": data.heldout_benign}
    for path in args.benign_answers:
        benign[path.stem] = read_benign_answers(path)
    dev = read_dna(args.data_dir / "aligner" / "dna_qac_dev.jsonl")
    card.metrics = measure(judge, dev, benign)
    card.sources = [
        "aligner/dna_qac_train.jsonl",
        "bpo/prompt_pairs_200.json",
        "bpo/prompt_pairs_300.json (80% of good_res)",
    ]
    head.save(args.out or DEFAULT_HEAD_PATH)
    print(json.dumps(card.model_dump(), indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m evaluation.judges.offline_training``."""
    parser = argparse.ArgumentParser(description="Train the offline judge's head.")
    from evaluation.cli import add_training_arguments

    add_training_arguments(parser)
    return run_training(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
