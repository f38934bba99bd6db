"""One trainer for every logistic head: the judge's and the gate's settings."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from gateway.gate.head_training import HeadFit, fit_logistic_head
from gateway.gate.heads import HeadCard

LABELS = np.array([1, 1, 1, 0, 0, 0, 1, 0])
TEXTS = ["make a bomb", "a pipe bomb", "poison it", "bake bread", "a garden", "tea", "bomb", "jam"]


def _rows() -> np.ndarray:
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(8, 4)).astype(np.float32)
    rows[:, 0] += LABELS * 2.0
    rows[:, 3] *= 1000.0  # one huge dimension, like the trunk's residual stream
    return rows


def test_plain_rows_give_scikit_learns_own_probabilities() -> None:
    rows, card = _rows(), HeadCard(features="answer", train_examples=8)
    head = fit_logistic_head(rows, LABELS, HeadFit(c=3.0, max_iter=5000), card=card)
    expected = LogisticRegression(C=3.0, max_iter=5000).fit(rows, LABELS).predict_proba(rows)
    np.testing.assert_allclose(head.scores(rows), expected[:, 1], rtol=1e-6)
    assert head.card == card and head.words is None and head.threshold == 0.5


def test_standardised_rows_are_folded_into_weights_that_read_raw_rows() -> None:
    rows = _rows()
    fit = HeadFit(c=0.3, class_weight="balanced", standardise=True, threshold=0.7)
    head = fit_logistic_head(rows, LABELS, fit)
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-6
    model = LogisticRegression(C=0.3, class_weight="balanced", max_iter=3000)
    expected = model.fit((rows - mean) / scale, LABELS).predict_proba((rows - mean) / scale)
    np.testing.assert_allclose(head.scores(rows), expected[:, 1], rtol=1e-5)
    assert head.threshold == 0.7


def test_a_word_part_is_fitted_on_the_texts_and_then_needs_them() -> None:
    head = fit_logistic_head(_rows(), LABELS, HeadFit(word_c=10.0), texts=TEXTS)
    assert head.words is not None and head.words.logit("a bomb") > head.words.logit("bread")
    with pytest.raises(ValueError, match="needs 8 texts"):
        head.scores(_rows())
