"""``aligngate train gate``: its training items, groups and cross-validated thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.gate import (
    PROMPT_RECIPE,
    SAFE_ANSWER_WEIGHT,
    HeadRecipe,
    Items,
    fit_head,
    on_risky_questions,
    training_data,
    word_texts,
)


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


def test_generated_questions_are_benign_prompts_and_their_answers_benign_answers(
    data_dir: Path,
) -> None:
    plain = training_data(data_dir)
    answered = [{"question": "How do tides work?", "answer": "The moon."}]
    data = training_data(data_dir, answered, ["Why is the sky blue?"])
    assert data.prompts.texts == [*plain.prompts.texts, "Why is the sky blue?"]
    assert (data.prompts.labels[-1], data.prompts.groups[-1]) == (0, "Why is the sky blue?")
    assert data.answers.texts[-1] == ("How do tides work?", "The moon.")
    assert data.answers.labels[-1] == 0


def test_the_word_part_reads_prompts_whole_and_only_the_answer_of_a_pair(data_dir: Path) -> None:
    data = training_data(data_dir)
    assert word_texts(data.prompts) == data.prompts.texts
    assert word_texts(data.answers)[:2] == ["yes", "no"]


EMBEDDING_ONLY = HeadRecipe(embedding_c=1.0, words=False)


def _items(labels: list[int], texts: list[str] | None = None) -> Items:
    items = Items()
    for n, label in enumerate(labels):
        items.add(texts[n] if texts else f"t{n}", label, f"g{n // 2}")
    return items


def test_threshold_keeps_the_target_share_of_risky_items_out_of_fold() -> None:
    rng = np.random.default_rng(0)
    labels = [1] * 200 + [0] * 200
    # Overlapping classes, so the threshold has to trade recall for skips.
    features = rng.normal(size=(400, 8)).astype(np.float32)
    features[:200, 0] += 1.5
    # One text for all, so the word part adds nothing and the embedding decides.
    items = _items(labels, ["the same words"] * 400)
    head = fit_head(features, items, EMBEDDING_ONLY, recall=0.9)
    scores = head.scores(features, word_texts(items))
    risky_through = float(np.mean(scores[:200] >= head.threshold))
    benign_skipped = float(np.mean(scores[200:] < head.threshold))
    assert 0.85 <= risky_through <= 0.97
    assert benign_skipped > 0.3
    # A stricter recall target can only lower the threshold.
    assert fit_head(features, items, EMBEDDING_ONLY, recall=0.98).threshold < head.threshold


def test_the_word_part_separates_what_the_embedding_cannot() -> None:
    rng = np.random.default_rng(0)
    labels = [1] * 100 + [0] * 100
    # The embedding is noise; only the words tell the classes apart.
    features = rng.normal(size=(200, 8)).astype(np.float32)
    verbs = ["harm", "hurt", "attack", "threaten"] * 25 + ["help", "thank", "greet", "teach"] * 25
    objects = ["someone", "a friend", "my neighbour", "a stranger", "my boss"] * 40
    texts = [f"how do I {verb} {who}" for verb, who in zip(verbs, objects, strict=True)]
    head = fit_head(features, _items(labels, texts), PROMPT_RECIPE, recall=0.95)
    assert head.words is not None
    scores = head.scores(features, texts)
    assert np.mean(scores[100:] < head.threshold) > 0.9
    assert np.mean(scores[:100] >= head.threshold) >= 0.9


def test_the_benign_cap_raises_the_cut_until_few_risky_looking_benign_prompts_pass() -> None:
    rng = np.random.default_rng(1)
    labels = [1] * 200 + [0] * 200
    features = rng.normal(size=(400, 8)).astype(np.float32)
    features[:200, 0] += 1.0
    items = Items()
    for n, label in enumerate(labels):
        source = "risky_benign_train" if n >= 300 else ""
        items.add("the same words", label, f"g{n}", source=source)
    loose = fit_head(features, items, EMBEDDING_ONLY, recall=0.95)
    capped = fit_head(features, items, HeadRecipe(1.0, False, benign_cap=0.05), recall=0.95)
    assert capped.threshold > loose.threshold
    scores = capped.scores(features[300:], ["the same words"] * 100)
    assert np.mean(scores >= capped.threshold) <= 0.12  # ~5% out of fold, refit on all


def test_the_answer_head_learns_from_answers_to_risky_questions_only(data_dir: Path) -> None:
    data = training_data(data_dir)
    answers = on_risky_questions(data)
    risky = {t for t, label in zip(data.prompts.texts, data.prompts.labels, strict=True) if label}
    assert answers.texts and all(question in risky for question, _ in answers.texts)
    assert len(answers.texts) < len(data.answers.texts)
