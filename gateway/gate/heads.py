"""A logistic head: regression on feature rows, an optional word part, a threshold, a card.

The risk gate's heads (on the embedded model's trunk) and the offline judge's head (on
MiniLM embeddings) are both this type; they read different features, and
``gateway.gate.head_training`` fits them. A gate head with a word part scores with the
mean of two logits, one from the feature row and one from TF-IDF word uni- and
bigrams, so it is a small product of experts: the row alone could not tell mild
Do-Not-Answer questions from everyday ones (see the gate card), the words carry what
pooling blurs. Both parts, the threshold and the card are stored in one small .npz
file; a head without a word part scores with the row alone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

Vector = npt.NDArray[np.float32]

# The word part's features; training and serving build the vectorizer from here.
WORD_NGRAMS = (1, 2)


def word_vectorizer() -> TfidfVectorizer:
    """Lower-cased word uni- and bigrams with sublinear TF-IDF, L2-normalised."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=WORD_NGRAMS, sublinear_tf=True)


# scikit-learn's default token pattern: runs of two or more word characters.
_WORD = re.compile(r"(?u)\b\w\w+\b")


def word_terms(text: str) -> list[str]:
    """The terms ``word_vectorizer()`` analyses ``text`` into: lower-cased words, then bigrams.

    The same steps as scikit-learn's word analyzer with these settings (lowercase, the
    default token pattern, no stop words, n-grams 1-2); tests/gateway/gate/test_heads.py
    checks the two agree.
    """
    words = _WORD.findall(text.lower())
    return words + [f"{first} {second}" for first, second in zip(words, words[1:], strict=False)]


@dataclass(frozen=True)
class WordModel:
    """Logistic regression on the TF-IDF vector of one text.

    The vectorizer's ``transform`` spends ~1.2 ms a call on overhead for one short
    text, more than the rest of the gate's arithmetic; ``logit`` does the same
    arithmetic on the few terms present: ~0.06 ms for a prompt, ~2.4 ms for 3,000 words.
    The terms come from ``word_terms``, not scikit-learn's analyzer: importing
    ``sklearn.feature_extraction.text`` for it (scipy, pandas, pyarrow) cost the serving
    process 137 MB, a quarter of the embedded default's memory budget.
    """

    vocabulary: list[str]
    idf: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    bias: float
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {term: n for n, term in enumerate(self.vocabulary)})

    @classmethod
    def from_fitted(cls, vectorizer: TfidfVectorizer, weights: Any, bias: float) -> WordModel:
        """The model of a fitted vectorizer and the regression's coefficients."""
        return cls(
            vocabulary=vectorizer.get_feature_names_out().tolist(),
            idf=np.asarray(vectorizer.idf_, dtype=np.float64),
            weights=np.asarray(weights, dtype=np.float64),
            bias=float(bias),
        )

    def logit(self, text: str) -> float:
        """The regression's log-odds that ``text`` is risky."""
        terms = Counter(n for n in map(self._index.get, word_terms(text)) if n is not None)
        if not terms:
            return self.bias
        columns = np.fromiter(terms.keys(), dtype=np.int64, count=len(terms))
        counts = np.fromiter(terms.values(), dtype=np.float64, count=len(terms))
        tfidf = (1.0 + np.log(counts)) * self.idf[columns]  # sublinear tf times idf
        return float(tfidf @ self.weights[columns] / np.linalg.norm(tfidf) + self.bias)


class HeadCard(BaseModel):
    """What a head was trained on and how well it did, stored inside the head file."""

    features: str = Field(description="What the rows are, e.g. the judge's 'question_answer'.")
    train_examples: int = 0
    train_harmful: int = Field(default=0, description="Training examples of the risky class.")
    regularization_c: float = 1.0
    benign_weight: float = 1.0
    sources: list[str] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)


@dataclass(frozen=True)
class LogisticHead:
    """P(risky) = sigmoid(the rows' logit), or of the mean with the words' logit.

    ``threshold`` is the shipped cut-off; without ``words`` the features decide alone.
    """

    weights: npt.NDArray[np.float64]
    bias: float
    threshold: float
    words: WordModel | None = None
    card: HeadCard | None = None

    def score(self, features: Vector, text: str = "") -> float:
        """The probability that the item is risky; ``text`` is what the word part reads."""
        return float(self.scores(features[np.newaxis, :], [text])[0])

    def scores(self, features: Vector, texts: Sequence[str] = ()) -> npt.NDArray[np.float64]:
        """``score`` for each row of ``features`` and its text (texts only for a word part)."""
        logits = features.astype(np.float64) @ self.weights + self.bias
        if self.words is not None:
            if len(texts) != len(logits):
                raise ValueError(f"a head with words needs {len(logits)} texts, got {len(texts)}")
            logits = (logits + np.array([self.words.logit(text) for text in texts])) / 2
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
        if self.card is not None:
            arrays["card"] = np.array(self.card.model_dump_json())
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
        """Read a head written by ``save`` (float32 files of the judge's first trainer too)."""
        with np.load(path, allow_pickle=False) as data:
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
                card=HeadCard.model_validate_json(str(data["card"])) if "card" in data else None,
            )
