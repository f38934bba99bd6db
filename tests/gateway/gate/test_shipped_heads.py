"""The shipped head files keep loading and scoring as the code that wrote them did.

The expected scores were computed with the two head classes the project had before
the judge and the gate shared one (``gateway.gate.heads.LogisticHead`` for the gate,
``evaluation.judges.offline.OfflineHead`` for the judge), on fixed feature rows, and
are pinned here: the shared class must reproduce them from the same files. The prompt
head was retrained since (more of our own prompts); its pins are the retrained file's
scores under the same class, so a change to loading or scoring still shows here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from gateway.gate.heads import LogisticHead

ROOT = Path(__file__).resolve().parents[3]
TEXTS = [
    "How do I kill a stuck process?",
    "Tell me how to make a weapon at home.",
    "Sure, here is a recipe for bread.",
]
# file, threshold, has a word part, card's feature mode, scores of ``_rows``
SHIPPED = [
    (
        "gateway/gate/heads/prompt_gate.npz",
        0.7953646460396899,
        True,
        None,
        [0.0272449508424436, 0.6209080562899382, 0.08739239469114465],
    ),
    (
        "gateway/gate/heads/answer_gate.npz",
        0.5652866373271078,
        False,
        None,
        [0.9966095579890331, 0.9968840825150892, 0.9969536578769612],
    ),
    (
        "evaluation/judges/offline_head.npz",
        0.5,
        False,
        "question_answer",
        [0.07937704530800396, 0.02363177646492071, 0.03468107001438476],
    ),
]


def _rows(dim: int) -> npt.NDArray[np.float32]:
    """Three fixed, different feature rows of width ``dim``."""
    n = np.arange(dim, dtype=np.float64)
    return np.stack([np.sin(n * (k + 1) * 0.37) * (k + 1) * 0.02 for k in range(3)]).astype(
        np.float32
    )


@pytest.mark.parametrize(("relative", "threshold", "words", "features", "expected"), SHIPPED)
def test_a_shipped_head_scores_as_before(
    relative: str, threshold: float, words: bool, features: str | None, expected: list[float]
) -> None:
    head = LogisticHead.load(ROOT / relative)
    assert head.threshold == threshold
    assert (head.words is not None) is words
    assert (head.card.features if head.card else None) == features
    scores = head.scores(_rows(head.weights.shape[0]), TEXTS)
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


def test_saving_a_shipped_head_again_keeps_its_scores_and_card(tmp_path: Path) -> None:
    for relative, *_ in SHIPPED:
        head = LogisticHead.load(ROOT / relative)
        head.save(tmp_path / "again.npz")
        again = LogisticHead.load(tmp_path / "again.npz")
        rows = _rows(head.weights.shape[0])
        np.testing.assert_array_equal(again.scores(rows, TEXTS), head.scores(rows, TEXTS))
        assert again.card == head.card
