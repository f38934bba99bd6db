"""The prompt and answer risk gates, sharing one batched trunk of the embedded model."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

from gateway.config import GateConfig, GateTrunk
from gateway.engines.base import EngineError
from gateway.gate.batcher import Embedder, EmbeddingBatcher
from gateway.gate.heads import HeadCard, LogisticHead
from gateway.gate.trunk import TrunkEmbedder, answer_text, prompt_text


def shipped_head(name: str, trunk: GateTrunk = "transformers") -> Path:
    """A head shipped in the package (``prompt_gate.npz``, ``answer_gate.npz``) for ``trunk``.

    The transformers trunk's heads keep their first names; another trunk's carry its
    name (``prompt_gate_llamacpp.npz``).
    """
    if trunk != "transformers":
        stem, suffix = name.rsplit(".", 1)
        name = f"{stem}_{trunk}.{suffix}"
    return Path(str(files("gateway.gate").joinpath("heads", name)))


def trunk_card(trunk: GateTrunk) -> HeadCard:
    """The card a gate head trained on ``trunk``'s vectors carries (``features``)."""
    return HeadCard(features=f"gate trunk: {trunk}")


def head_trunk(head: LogisticHead) -> str:
    """The trunk whose vectors a gate head was trained on; heads without a card predate
    the llama.cpp trunk, so they read the transformers one."""
    if head.card is None:
        return "transformers"
    return head.card.features.removeprefix("gate trunk: ")


def make_trunk(trunk: GateTrunk) -> Embedder:
    """The embedder computing ``trunk``'s vectors."""
    if trunk == "llamacpp":
        from gateway.gate.llamacpp_trunk import LlamaCppTrunk

        return LlamaCppTrunk()
    return TrunkEmbedder()


def load_head(path: Path, trunk: GateTrunk) -> LogisticHead:
    """A gate head, refused when it was trained on another trunk's vectors."""
    head = LogisticHead.load(path)
    if head_trunk(head) != trunk:
        raise EngineError(
            f"gate head {path} was trained on the {head_trunk(head)!r} trunk's vectors, "
            f"but gate.trunk is {trunk!r}; its scores would mean nothing"
        )
    return head


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
        """The gate with the configured or shipped heads on the configured trunk."""
        trunk = config.trunk
        prompt = Path(config.prompt_head or shipped_head("prompt_gate.npz", trunk))
        answer = Path(config.answer_head or shipped_head("answer_gate.npz", trunk))
        return cls(
            EmbeddingBatcher(embedder or make_trunk(trunk), wait_ms=config.batch_wait_ms),
            load_head(prompt, trunk),
            load_head(answer, trunk),
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
