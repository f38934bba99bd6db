"""Typo robustness: seeded typo injection and the verdict change rate."""

from __future__ import annotations

import random

from evaluation.suites.prompt_sets import PromptRow
from evaluation.suites.typos import inject_typos, score_typo_robustness, typo_prompts
from tests.evaluation.fakes import KeywordJudge


def test_typos_are_injected_reproducibly_from_the_seed() -> None:
    rows = [PromptRow(id="1", prompt="Please explain photosynthesis to a curious child")]
    first, again = typo_prompts(rows, seed=3), typo_prompts(rows, seed=3)
    assert first == again and first[0] != rows[0].prompt
    assert len(first[0].split(" ")) == len(rows[0].prompt.split(" "))


def test_short_words_and_numbers_are_left_alone() -> None:
    assert inject_typos("a b c 1234", random.Random(0), rate=1.0) == "a b c 1234"


async def test_the_change_rate_counts_prompts_whose_verdict_flipped() -> None:
    rows = [PromptRow(id=str(i), prompt=f"p{i}") for i in range(4)]
    clean = ["refuse", "refuse", "HARMFUL", "HARMFUL"]
    typos = ["refuse", "HARMFUL", "HARMFUL", "refuse"]
    result = await score_typo_robustness(rows, clean, typos, KeywordJudge(), run="r")
    values = {m.name: m.value for m in result.metrics if m.category is None}
    assert values == {
        "verdict_change_rate": 0.5,
        "harmful_rate_clean": 0.5,
        "harmful_rate_typos": 0.5,
    }
