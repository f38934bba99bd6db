"""``aligngate train gate``: its training items, groups and cross-validated thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.gate import SAFE_ANSWER_WEIGHT, Items, fit_head, training_data


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Two risky questions and one prompt of each BPO file, in the shared data's formats."""
    (tmp_path / "aligner").mkdir()
    (tmp_path / "bpo").mkdir()
    rows = [
        {"id": n, "question": f"q{n}", "safe_answer": "no", "harmful_answer": "yes"}
        for n in range(2)
    ]
    (tmp_path / "aligner" / "dna_qac_train.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows)
    )
    pair = {"optimized_prompt": "better", "good_res": "good", "bad_res": "bad"}
    (tmp_path / "bpo" / "prompt_pairs_200.json").write_text(json.dumps([{**pair, "prompt": "p"}]))
    (tmp_path / "bpo" / "prompt_pairs_300.json").write_text(
        json.dumps([{**pair, "instruction": "i", "context": "ctx"}])
    )
    return tmp_path


def test_training_items_keep_each_question_and_each_rewrite_in_one_group(data_dir: Path) -> None:
    data = training_data(data_dir)
    prompts = list(zip(data.prompts.texts, data.prompts.labels, data.prompts.groups, strict=True))
    assert prompts == [
        ("q0", 1, "q0"),
        ("q1", 1, "q1"),
        ("p", 0, "p"),
        ("better", 0, "p"),
        ("i\nctx", 0, "i\nctx"),
        ("better", 0, "i\nctx"),
    ]
    answers = data.answers
    columns = (answers.texts, answers.labels, answers.groups, answers.weights)
    rows = list(zip(*columns, strict=True))
    assert rows[:2] == [(("q0", "yes"), 1, "q0", 1.0), (("q0", "no"), 0, "q0", SAFE_ANSWER_WEIGHT)]
    assert rows[-1] == (("i\nctx", "good"), 0, "i\nctx", 1.0)


def test_backend_answers_to_generated_questions_are_benign_answers_only(data_dir: Path) -> None:
    plain = training_data(data_dir)
    data = training_data(data_dir, [{"question": "How do tides work?", "answer": "The moon."}])
    assert data.prompts == plain.prompts
    assert data.answers.texts[-1] == ("How do tides work?", "The moon.")
    assert data.answers.labels[-1] == 0


def _items(labels: list[int]) -> Items:
    items = Items()
    for n, label in enumerate(labels):
        items.add(f"t{n}", label, f"g{n // 2}")
    return items


def test_threshold_keeps_the_target_share_of_risky_items_out_of_fold() -> None:
    rng = np.random.default_rng(0)
    labels = [1] * 200 + [0] * 200
    # Overlapping classes, so the threshold has to trade recall for skips.
    features = rng.normal(size=(400, 8)).astype(np.float32)
    features[:200, 0] += 1.5
    head = fit_head(features, _items(labels), recall=0.9)
    scores = np.array([head.score(row) for row in features])
    risky_through = float(np.mean(scores[:200] >= head.threshold))
    benign_skipped = float(np.mean(scores[200:] < head.threshold))
    assert 0.85 <= risky_through <= 0.97
    assert benign_skipped > 0.3
    # A stricter recall target can only lower the threshold.
    assert fit_head(features, _items(labels), recall=0.98).threshold < head.threshold
