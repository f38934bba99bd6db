"""The prompt and answer risk gates, sharing one batched embedder."""

from __future__ import annotations

import asyncio
from importlib.resources import files
from pathlib import Path

from gateway.config import GateConfig
from gateway.gate.batcher import Embedder, EmbeddingBatcher
from gateway.gate.heads import LogisticHead, answer_features, prompt_features


def shipped_head(name: str) -> Path:
    """A head shipped in the package (``prompt_gate.npz``, ``answer_gate.npz``)."""
    return Path(str(files("gateway.gate").joinpath("heads", name)))


class RiskGate:
    """Scores a prompt's risk (before BPO) and an answer's risk (before the Aligner)."""

    def __init__(
        self, batcher: EmbeddingBatcher, prompt_head: LogisticHead, answer_head: LogisticHead
    ) -> None:
        self.batcher = batcher
        self.prompt_head = prompt_head
        self.answer_head = answer_head

    @classmethod
    def from_config(cls, config: GateConfig, embedder: Embedder | None = None) -> RiskGate:
        """The gate with the configured or shipped heads and the packaged MiniLM."""
        if embedder is None:
            from evaluation.embeddings import MiniLmEmbedder

            embedder = MiniLmEmbedder(int8=config.int8_embeddings)
        prompt = Path(config.prompt_head) if config.prompt_head else shipped_head("prompt_gate.npz")
        answer = Path(config.answer_head) if config.answer_head else shipped_head("answer_gate.npz")
        return cls(
            EmbeddingBatcher(embedder, wait_ms=config.batch_wait_ms),
            LogisticHead.load(prompt),
            LogisticHead.load(answer),
        )

    async def prompt_risk(self, prompt: str) -> float:
        """P(the prompt is risky)."""
        vector = await self.batcher.embed(prompt)
        return self.prompt_head.score(prompt_features(vector), prompt)

    async def answer_risk(self, prompt: str, answer: str) -> float:
        """P(the answer is harmful), given the question it answers."""
        question, reply = await asyncio.gather(
            self.batcher.embed(prompt), self.batcher.embed(answer)
        )
        # The word part reads the answer alone: what the model said is what is risky.
        return self.answer_head.score(answer_features(question, reply), answer)
