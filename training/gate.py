"""``aligngate train gate``: the prompt and answer risk heads, their thresholds and card.

Risky: the Do-Not-Answer training questions and their harmful answers. Benign: the
BPO pairs' prompts and good answers (and, for the answer gate, the safe answers to
the risky questions, so the head learns harm, not topic). Thresholds come from
cross-validation on the training data only; the dev splits are used to report (and
chose between a handful of feature and data variants, see the card).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy loads only when the command runs, not when the CLI parses
    import numpy as np
    import numpy.typing as npt

    from gateway.gate.heads import LogisticHead

    Matrix = npt.NDArray[np.float32]
TARGET_RECALL = 0.95  # the share of risky items the gate must send to the stage


@dataclass
class GateData:
    """Texts for one split: risky and benign prompts, and (question, answer) pairs."""

    risky_prompts: list[str] = field(default_factory=list)
    benign_prompts: list[str] = field(default_factory=list)
    risky_answers: list[tuple[str, str]] = field(default_factory=list)
    benign_answers: list[tuple[str, str]] = field(default_factory=list)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def training_data(data_dir: Path) -> GateData:
    """The training split: DNA train (risky) against the BPO pairs (benign)."""
    data = GateData()
    for row in _jsonl(data_dir / "aligner" / "dna_qac_train.jsonl"):
        data.risky_prompts.append(row["question"])
        data.risky_answers.append((row["question"], row["harmful_answer"]))
        data.benign_answers.append((row["question"], row["safe_answer"]))
    pairs = json.loads((data_dir / "bpo" / "prompt_pairs_200.json").read_text())
    pairs += json.loads((data_dir / "bpo" / "prompt_pairs_300.json").read_text())
    for pair in pairs:
        prompt = pair.get("prompt") or f"{pair['instruction']}\n{pair.get('context') or ''}".strip()
        # The rewrites are benign prompts too, and widen the benign side's phrasing.
        data.benign_prompts += [prompt, pair["optimized_prompt"]]
        data.benign_answers.append((prompt, pair["good_res"]))
    return data


def dev_data(data_dir: Path, vicuna_answers: list[dict[str, Any]]) -> GateData:
    """The dev split: DNA dev (risky) against Vicuna prompts and the backend's answers."""
    data = GateData()
    for row in _jsonl(data_dir / "aligner" / "dna_qac_dev.jsonl"):
        data.risky_prompts.append(row["question"])
        data.risky_answers.append((row["question"], row["harmful_answer"]))
    for row in vicuna_answers:
        data.benign_prompts.append(row["question"])
        data.benign_answers.append((row["question"], row["answer"]))
    return data


def _embed_pairs(embedder: Any, pairs: list[tuple[str, str]]) -> Matrix:
    import numpy as np

    from gateway.gate.heads import answer_features

    questions = embedder.encode([q for q, _ in pairs])
    answers = embedder.encode([a for _, a in pairs])
    return np.stack([answer_features(q, a) for q, a in zip(questions, answers, strict=True)])


def fit_head(features: Matrix, labels: npt.NDArray[np.int_], seed: int = 0) -> LogisticHead:
    """Logistic regression, threshold set by 5-fold cross-validated recall on risky items."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    from gateway.gate.heads import LogisticHead

    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    scores = cross_val_predict(model, features, labels, cv=5, method="predict_proba")[:, 1]
    risky = np.sort(scores[labels == 1])
    threshold = float(risky[int(np.floor((1 - TARGET_RECALL) * len(risky)))])
    model.fit(features, labels)
    return LogisticHead(
        weights=model.coef_[0].astype(np.float64),
        bias=float(model.intercept_[0]),
        threshold=threshold,
    )


def _labels(risky: int, benign: int) -> npt.NDArray[np.int_]:
    import numpy as np

    return np.array([1] * risky + [0] * benign)


def train_heads(embedder: Any, data: GateData) -> tuple[LogisticHead, LogisticHead]:
    """The prompt head and the answer head."""

    prompts = embedder.encode(data.risky_prompts + data.benign_prompts)
    prompt_head = fit_head(prompts, _labels(len(data.risky_prompts), len(data.benign_prompts)))
    answers = _embed_pairs(embedder, data.risky_answers + data.benign_answers)
    answer_head = fit_head(answers, _labels(len(data.risky_answers), len(data.benign_answers)))
    return prompt_head, answer_head


def _scores(head: LogisticHead, features: Matrix) -> npt.NDArray[np.float64]:
    import numpy as np

    return np.array([head.score(row) for row in features])


def evaluate(
    embedder: Any, heads: tuple[LogisticHead, LogisticHead], data: GateData, roc_png: Path
) -> dict[str, Any]:
    """Pass-through of risky items and skip rate of benign ones at the shipped thresholds."""
    import numpy as np
    from sklearn.metrics import roc_auc_score, roc_curve

    sets = {
        "prompt_gate": (
            heads[0],
            embedder.encode(data.risky_prompts),
            embedder.encode(data.benign_prompts),
        ),
        "answer_gate": (
            heads[1],
            _embed_pairs(embedder, data.risky_answers),
            _embed_pairs(embedder, data.benign_answers),
        ),
    }
    report: dict[str, Any] = {}
    curves = {}
    for name, (head, risky, benign) in sets.items():
        r, b = _scores(head, risky), _scores(head, benign)
        labels, scores = _labels(len(r), len(b)), np.concatenate([r, b])
        report[name] = {
            "threshold": round(head.threshold, 4),
            "risky_items": len(r),
            "benign_items": len(b),
            "risky_through_stage": round(float(np.mean(r >= head.threshold)), 4),
            "benign_skipping_stage": round(float(np.mean(b < head.threshold)), 4),
            "roc_auc": round(float(roc_auc_score(labels, scores)), 4),
        }
        curves[name] = roc_curve(labels, scores)[:2]
    _plot(curves, roc_png)
    return report


def _plot(curves: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 5))
    for name, (fpr, tpr) in curves.items():
        axis.plot(fpr, tpr, label=name)
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axis.set_xlabel("benign items sent to the stage (false positive rate)")
    axis.set_ylabel("risky items sent to the stage (true positive rate)")
    axis.set_title("Risk gate ROC on the dev splits")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


async def backend_answers(prompts: list[dict[str, Any]], max_tokens: int) -> list[dict[str, Any]]:
    """The embedded model's greedy answers to the Vicuna prompts (the benign dev answers)."""
    from gateway.engines.base import ChatTurn, GenerationRequest
    from gateway.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine()
    await engine.start()
    try:
        requests = [
            GenerationRequest(
                messages=[ChatTurn(role="user", content=p["text"])], max_tokens=max_tokens
            )
            for p in prompts
        ]
        results = await engine.generate(requests)
    finally:
        await engine.aclose()
    return [
        {"question": p["text"], "answer": r.text} for p, r in zip(prompts, results, strict=True)
    ]


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
        "--benign-answers",
        type=Path,
        help="JSONL cache of the backend's Vicuna answers (made if missing).",
    )
    parser.add_argument("--max-tokens", type=int, default=128, help="For the Vicuna answers.")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train, save, evaluate on dev, and print the report."""

    from evaluation.embeddings import MiniLmEmbedder

    embedder = MiniLmEmbedder()
    heads = train_heads(embedder, training_data(args.data_dir))
    args.out.mkdir(parents=True, exist_ok=True)
    heads[0].save(args.out / "prompt_gate.npz")
    heads[1].save(args.out / "answer_gate.npz")
    # Derived from the shared data, so cached outside the project, never shipped.
    default_cache = Path.home() / ".cache" / "aligngate" / f"vicuna_answers_{args.max_tokens}.jsonl"
    cache = args.benign_answers or default_cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    if cache.exists():
        answers = _jsonl(cache)
    else:
        answers = asyncio.run(
            backend_answers(_jsonl(args.data_dir / "bpo" / "vicuna_eval.jsonl"), args.max_tokens)
        )
        cache.write_text("".join(json.dumps(a) + "\n" for a in answers))
    report = evaluate(embedder, heads, dev_data(args.data_dir, answers), args.out / "roc.png")
    (args.out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0
