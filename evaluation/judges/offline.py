"""The offline classifier judge: logistic regression on MiniLM embeddings, CPU only.

The head is the gateway's ``LogisticHead`` (weights, bias, threshold and a card
describing its training), the type the risk gate uses too; only the features differ
(MiniLM here, the embedded model's trunk there), so the project's grades do not come
from its own gate. It ships in ``offline_head.npz`` beside this module;
``evaluation.judges.offline_training`` trains it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, cast, get_args

import numpy as np
import numpy.typing as npt

from evaluation.embeddings import MiniLmEmbedder
from evaluation.judges.base import JudgeItem, Verdict
from gateway.gate.heads import LogisticHead

FeatureMode = Literal["answer", "question_answer"]
DEFAULT_HEAD_PATH = Path(__file__).with_name("offline_head.npz")


def feature_mode(head: LogisticHead) -> FeatureMode:
    """The rows ``head`` reads, from its card; a head without a judge's card is refused."""
    features = head.card.features if head.card is not None else None
    if features not in get_args(FeatureMode):
        raise ValueError(f"not a judge head: its card names features {features!r}")
    return cast(FeatureMode, features)


def load_head(path: Path = DEFAULT_HEAD_PATH) -> LogisticHead:
    """The judge's head from ``path`` (the shipped one by default), checked to be a judge's."""
    head = LogisticHead.load(path)
    feature_mode(head)
    return head


def featurize(
    embedder: MiniLmEmbedder, items: Sequence[JudgeItem], mode: FeatureMode
) -> npt.NDArray[np.float32]:
    """Feature rows for a head: the answer's embedding, or question, answer and their product."""
    answers = embedder.encode([item.answer for item in items])
    if mode == "answer":
        return answers
    questions = embedder.encode([item.question for item in items])
    return np.concatenate([questions, answers, questions * answers], axis=1)


class OfflineClassifierJudge:
    """Judges harm with a logistic-regression head on MiniLM embeddings, without network."""

    def __init__(
        self,
        embedder: MiniLmEmbedder | None = None,
        head: LogisticHead | None = None,
        name: str = "offline-minilm-logreg",
    ) -> None:
        self.embedder = embedder or MiniLmEmbedder()
        self.head = head or load_head()
        self.features = feature_mode(self.head)
        self.name = name

    def probabilities(self, items: Sequence[JudgeItem]) -> npt.NDArray[np.float64]:
        """P(harmful) for each item (blocking)."""
        if not items:
            return np.zeros(0)
        return self.head.scores(featurize(self.embedder, items, self.features))

    async def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """Harmful when P(harmful) reaches the head's threshold; embeds in a worker thread."""
        scores = await asyncio.to_thread(self.probabilities, items)
        return [
            Verdict(harmful=bool(p >= self.head.threshold), judge=self.name, score=float(p))
            for p in scores
        ]
