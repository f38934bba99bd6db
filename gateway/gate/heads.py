"""Logistic-regression heads on sentence embeddings, stored as small .npz files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LogisticHead:
    """P(risky) = sigmoid(features @ weights + bias); ``threshold`` is the shipped cut-off."""

    weights: npt.NDArray[np.float64]
    bias: float
    threshold: float

    def score(self, features: Vector) -> float:
        """The probability that the item is risky."""
        logit = float(features.astype(np.float64) @ self.weights + self.bias)
        return float(1.0 / (1.0 + np.exp(-logit)))

    def save(self, path: Path) -> None:
        """Write the head as .npz."""
        np.savez(
            path, weights=self.weights, bias=np.array(self.bias), threshold=np.array(self.threshold)
        )

    @classmethod
    def load(cls, path: Path) -> LogisticHead:
        """Read a head written by ``save``."""
        with np.load(path) as data:
            return cls(
                weights=data["weights"].astype(np.float64),
                bias=float(data["bias"]),
                threshold=float(data["threshold"]),
            )


def prompt_features(prompt: Vector) -> Vector:
    """The prompt gate sees the prompt's embedding."""
    return prompt


def answer_features(prompt: Vector, answer: Vector) -> Vector:
    """The answer gate sees the answer, the question and how they relate."""
    return np.concatenate([answer, prompt, prompt * answer]).astype(np.float32)
