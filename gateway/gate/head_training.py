"""Fit a ``LogisticHead``: scikit-learn's logistic regression on rows, optionally on words.

The gate's trainer (``training.gate``) and the offline judge's
(``evaluation.judges.offline_training``) both fit through ``fit_logistic_head``; what differs
between them (C, class balance, standardising the rows, the word part, the threshold
they choose afterwards) is passed in. scikit-learn is imported only here, when a head
is fitted, never when one is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gateway.gate.heads import HeadCard, LogisticHead, WordModel, word_vectorizer


@dataclass(frozen=True)
class HeadFit:
    """How a head is fitted; every field is one of scikit-learn's or a step around it."""

    c: float = 1.0  # the rows' inverse regularisation
    # "balanced" weighs both classes equally whatever their counts (the gate's choice).
    class_weight: Literal["balanced"] | None = None
    # Fit on standardised rows, then fold the scaling into the weights so serving needs
    # none: the trunk's residual stream has a few huge dimensions.
    standardise: bool = False
    word_c: float | None = None  # fit a word part with this C (the texts are then needed)
    max_iter: int = 3000
    threshold: float = 0.5  # the cut-off stored with the head; callers may choose another


def fit_logistic_head(
    features: npt.NDArray[np.float32],
    labels: Any,
    fit: HeadFit,
    sample_weight: Any = None,
    texts: Sequence[str] = (),
    card: HeadCard | None = None,
) -> LogisticHead:
    """A head fitted on ``features`` (one row per label), and on ``texts`` for a word part."""
    from sklearn.linear_model import LogisticRegression

    def model(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, class_weight=fit.class_weight, max_iter=fit.max_iter)

    rows = np.asarray(features, dtype=np.float32)
    mean, scale = np.zeros(rows.shape[1], dtype=np.float32), np.ones(rows.shape[1], np.float32)
    if fit.standardise:
        mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-6
    fitted = model(fit.c).fit((rows - mean) / scale, labels, sample_weight=sample_weight)
    coef = fitted.coef_[0].astype(np.float64) / scale
    bias = float(fitted.intercept_[0] - coef @ mean)
    words = None
    if fit.word_c is not None:
        vectorizer = word_vectorizer()
        matrix = vectorizer.fit_transform(list(texts))
        part = model(fit.word_c).fit(matrix, labels, sample_weight=sample_weight)
        words = WordModel.from_fitted(vectorizer, part.coef_[0], part.intercept_[0])
    return LogisticHead(weights=coef, bias=bias, threshold=fit.threshold, words=words, card=card)
