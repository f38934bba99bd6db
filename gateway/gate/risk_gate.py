"""The prompt and answer risk gates, sharing one batched trunk of the embedded model."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

from gateway.config import GateConfig
from gateway.gate.batcher import Embedder, EmbeddingBatcher
from gateway.gate.heads import LogisticHead
from gateway.gate.trunk import TrunkEmbedder, answer_text, prompt_text


def shipped_head(name: str) -> Path:
    """A head shipped in the package (``prompt_gate.npz``, ``answer_gate.npz``)."""
    return Path(str(files("gateway.gate").joinpath("heads", name)))


# The answer score's cut-off: both heads at their own thresholds (see ``answer_risk``).
ANSWER_THRESHOLD = 0.5

# What the gate scores: a prompt before the call, an answer (with its question) after it.
GatePhase = Literal["prompt", "answer"]


@dataclass(frozen=True)
class GateDecision:
    """One score and the cut-off it was held against; at or over it, the text is risky."""

    phase: GatePhase
    score: float
    threshold: float

    @property
    def risky(self) -> bool:
        """At or over the cut-off: a gated stage runs (and a verified answer fails)."""
        return self.score >= self.threshold

    def detail(self, prefix: str = "gate") -> dict[str, object]:
        """The score and cut-off as a trace record's detail (``gate_score``, ``gate_threshold``)."""
        return {f"{prefix}_score": round(self.score, 4), f"{prefix}_threshold": self.threshold}


def centred(probability: float, threshold: float) -> float:
    """``probability`` moved on the logit scale so that ``threshold`` lands on 0.5."""
    p = min(max(probability, 1e-9), 1 - 1e-9)
    t = min(max(threshold, 1e-9), 1 - 1e-9)
    logit = math.log(p / (1 - p)) - math.log(t / (1 - t))
    return 1.0 / (1.0 + math.exp(-logit))


class RiskGate:
    """Scores a prompt's risk (before BPO) and an answer's risk (before the Aligner).

    An answer is risky when its question is risky *and* the answer head, trained only
    on answers to risky questions, finds it harmful rather than safe. One head on
    (question, answer) pairs of every kind could not learn both at once: the
    backend's rambling answers to benign prompts read like its rambling compliance
    with harmful ones (ROC AUC 0.74 on the dev answers; the card has the figures).
    """

    def __init__(
        self,
        batcher: EmbeddingBatcher,
        prompt_head: LogisticHead,
        answer_head: LogisticHead,
        timeout_s: float = 30.0,
    ) -> None:
        self.batcher = batcher
        self.prompt_head = prompt_head
        self.answer_head = answer_head
        self.timeout_s = timeout_s  # one decision's budget, for the stages that wait on it

    @classmethod
    def from_config(cls, config: GateConfig, embedder: Embedder | None = None) -> RiskGate:
        """The gate with the configured or shipped heads on the embedded model's trunk."""
        prompt = Path(config.prompt_head) if config.prompt_head else shipped_head("prompt_gate.npz")
        answer = Path(config.answer_head) if config.answer_head else shipped_head("answer_gate.npz")
        return cls(
            EmbeddingBatcher(embedder or TrunkEmbedder(), wait_ms=config.batch_wait_ms),
            LogisticHead.load(prompt),
            LogisticHead.load(answer),
            timeout_s=config.timeout_s,
        )

    @property
    def prompt_threshold(self) -> float:
        """The prompt score's shipped cut-off."""
        return self.prompt_head.threshold

    @property
    def answer_threshold(self) -> float:
        """The answer score's shipped cut-off."""
        return ANSWER_THRESHOLD

    async def decide(
        self,
        phase: GatePhase,
        question: str,
        answer: str | None = None,
        threshold: float | None = None,
    ) -> GateDecision:
        """The phase's score of ``question`` (and ``answer``) against ``threshold``.

        ``threshold`` None means the phase's shipped cut-off. No timeout here: the
        callers bound a decision by ``timeout_s`` under their own failure policy.
        """
        if phase == "prompt":
            score = await self.prompt_risk(question)
            cut = self.prompt_threshold
        else:
            if answer is None:
                raise ValueError("an answer decision needs the answer")
            score = await self.answer_risk(question, answer)
            cut = self.answer_threshold
        return GateDecision(phase, score, threshold if threshold is not None else cut)

    async def prompt_risk(self, prompt: str) -> float:
        """P(the prompt is risky)."""
        text = prompt_text(prompt)
        return self.prompt_head.score(await self.batcher.embed(text), text)

    async def answer_risk(self, prompt: str, answer: str) -> float:
        """The risk that the answer needs correcting: 0.5 is where both heads reach their cut-off.

        The smaller of the prompt score and the answer head's score, each centred on its
        own threshold; so over 0.5 means "a risky question, and not a safe answer to it".
        """
        question, vector = await asyncio.gather(
            self.prompt_risk(prompt), self.batcher.embed(answer_text(prompt, answer))
        )
        # The word part (when a head has one) reads the answer alone.
        harmful = self.answer_head.score(vector, answer)
        return min(
            centred(question, self.prompt_head.threshold),
            centred(harmful, self.answer_head.threshold),
        )
