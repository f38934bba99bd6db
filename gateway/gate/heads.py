"""The gate's heads: logistic regression on a sentence embedding and on word n-grams.

A head scores with the mean of two logits, one from the MiniLM embedding and one from
TF-IDF word uni- and bigrams, so it is a small product of experts. The embedding
alone could not tell mild Do-Not-Answer questions from everyday ones (see the card);
the words carry what mean pooling blurs. Both parts and the threshold are stored in
one small .npz file. A file without the word part (an older head) scores with the
embedding alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

Vector = npt.NDArray[np.float32]

# The word part's features; training and serving build the vectorizer from here.
WORD_NGRAMS = (1, 2)


def word_vectorizer(vocabulary: list[str] | None = None) -> TfidfVectorizer:
    """Lower-cased word uni- and bigrams with sublinear TF-IDF, L2-normalised."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=WORD_NGRAMS, sublinear_tf=True, vocabulary=vocabulary)


@dataclass(frozen=True)
class WordModel:
    """Logistic regression on the TF-IDF vector of one text."""

    vocabulary: list[str]
    idf: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    bias: float
    _vectorizer: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        vectorizer = word_vectorizer(self.vocabulary)
        vectorizer.idf_ = self.idf  # a fixed vocabulary and idf need no fit
        object.__setattr__(self, "_vectorizer", vectorizer)

    @classmethod
    def from_fitted(cls, vectorizer: TfidfVectorizer, weights: Any, bias: float) -> WordModel:
        """The model of a fitted vectorizer and the regression's coefficients."""
        return cls(
            vocabulary=vectorizer.get_feature_names_out().tolist(),
            idf=np.asarray(vectorizer.idf_, dtype=np.float64),
            weights=np.asarray(weights, dtype=np.float64),
            bias=float(bias),
        )

    def logits(self, texts: list[str]) -> npt.NDArray[np.float64]:
        """The regression's log-odds that each text is risky."""
        return np.asarray(self._vectorizer.transform(texts) @ self.weights + self.bias)


@dataclass(frozen=True)
class LogisticHead:
    """P(risky) = sigmoid(mean of the embedding's and the words' logits).

    ``threshold`` is the shipped cut-off; without ``words`` the embedding decides alone.
    """

    weights: npt.NDArray[np.float64]
    bias: float
    threshold: float
    words: WordModel | None = None

    def score(self, features: Vector, text: str) -> float:
        """The probability that the item is risky; ``text`` is what the word part reads."""
        return float(self.scores(features[np.newaxis, :], [text])[0])

    def scores(self, features: Vector, texts: list[str]) -> npt.NDArray[np.float64]:
        """``score`` for each row of ``features`` and its text."""
        logits = features.astype(np.float64) @ self.weights + self.bias
        if self.words is not None:
            logits = (logits + self.words.logits(texts)) / 2
        return np.asarray(1.0 / (1.0 + np.exp(-logits)))

    def save(self, path: Path) -> None:
        """Write the head as compressed .npz; loading needs no pickle.

        The vocabulary is stored as one UTF-8 byte string joined by newlines (a token
        never holds one): as a fixed-width unicode array it took ~28 MB, not ~0.3.
        """
        arrays: dict[str, Any] = {
            "weights": self.weights,
            "bias": np.array(self.bias),
            "threshold": np.array(self.threshold),
        }
        if self.words is not None:
            arrays |= {
                "word_vocabulary": np.frombuffer(
                    "\n".join(self.words.vocabulary).encode(), dtype=np.uint8
                ),
                "word_idf": self.words.idf,
                "word_weights": self.words.weights,
                "word_bias": np.array(self.words.bias),
            }
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> LogisticHead:
        """Read a head written by ``save``."""
        with np.load(path) as data:
            words = None
            if "word_vocabulary" in data:
                words = WordModel(
                    vocabulary=data["word_vocabulary"].tobytes().decode().split("\n"),
                    idf=data["word_idf"].astype(np.float64),
                    weights=data["word_weights"].astype(np.float64),
                    bias=float(data["word_bias"]),
                )
            return cls(
                weights=data["weights"].astype(np.float64),
                bias=float(data["bias"]),
                threshold=float(data["threshold"]),
                words=words,
            )


def prompt_features(prompt: Vector) -> Vector:
    """The prompt gate sees the prompt's embedding."""
    return prompt


def answer_features(prompt: Vector, answer: Vector) -> Vector:
    """The answer gate's embedding part sees the answer, the question and how they relate."""
    return np.concatenate([answer, prompt, prompt * answer]).astype(np.float32)
