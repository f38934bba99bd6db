"""Helpfulness: pairwise win/tie/loss of run B against run A by a pairwise judge.

The order in which each pair is first shown is randomised with a seed, and every
pair is judged in both orders; B wins only if it is preferred in both, A wins
likewise, and anything else (a tie or an inconsistent pair) counts as a tie.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Literal

from evaluation.judges.base import PairwiseItem, PairwiseJudge
from evaluation.results import Metric, SuiteResult
from evaluation.suites.base import Ask
from evaluation.suites.prompt_sets import PromptRow

SUITE = "helpfulness"
Side = Literal["run_a", "run_b", "tie"]
Outcome = Literal["win", "tie", "loss"]


def pair_label(run_a: str, run_b: str) -> str:
    """How a comparison is named in results: ``B vs A``."""
    return f"{run_b} vs {run_a}"


def _orders(
    rows: Sequence[PromptRow], answers_a: Sequence[str], answers_b: Sequence[str], seed: int
) -> tuple[list[PairwiseItem], list[bool]]:
    """Two items per row (first order, then swapped) and whether run B was shown first."""
    rng = random.Random(seed)
    items: list[PairwiseItem] = []
    b_first: list[bool] = []
    for row, a, b in zip(rows, answers_a, answers_b, strict=True):
        flip = rng.random() < 0.5
        first, second = (b, a) if flip else (a, b)
        items.append(PairwiseItem(question=row.prompt, answer_a=first, answer_b=second))
        items.append(PairwiseItem(question=row.prompt, answer_a=second, answer_b=first))
        b_first.append(flip)
    return items, b_first


def _side(winner: str, b_shown_as_a: bool) -> Side:
    if winner == "tie":
        return "tie"
    return "run_b" if (winner == "A") == b_shown_as_a else "run_a"


def outcome(first: Side, second: Side) -> Outcome:
    """B's outcome from the two orders' preferences; disagreement is a tie."""
    if first == second == "run_b":
        return "win"
    if first == second == "run_a":
        return "loss"
    return "tie"


async def score_helpfulness(
    rows: Sequence[PromptRow],
    answers_a: Sequence[str],
    answers_b: Sequence[str],
    judge: PairwiseJudge,
    runs: tuple[str, str],
    seed: int = 0,
) -> SuiteResult:
    """Win, tie and loss rates of run B against run A, and how often the orders disagreed."""
    items, b_first = _orders(rows, answers_a, answers_b, seed)
    verdicts = await judge.compare(items)
    outcomes: list[Outcome] = []
    inconsistent = 0
    for i, flip in enumerate(b_first):
        first = _side(verdicts[2 * i].winner, b_shown_as_a=flip)
        second = _side(verdicts[2 * i + 1].winner, b_shown_as_a=not flip)
        outcomes.append(outcome(first, second))
        inconsistent += first != second
    label = pair_label(*runs)
    n = len(outcomes)
    values = {
        "win_rate": outcomes.count("win") / n if n else 0.0,
        "tie_rate": outcomes.count("tie") / n if n else 0.0,
        "loss_rate": outcomes.count("loss") / n if n else 0.0,
        "inconsistent_rate": inconsistent / n if n else 0.0,
    }
    metrics = [
        Metric(suite=SUITE, run=label, name=name, value=value, n=n, judge=judge.name)
        for name, value in values.items()
    ]
    return SuiteResult(suite=SUITE, run=label, judge=judge.name, metrics=metrics)


async def run_helpfulness(
    rows: Sequence[PromptRow],
    asks: tuple[Ask, Ask],
    judge: PairwiseJudge,
    runs: tuple[str, str],
    seed: int = 0,
) -> SuiteResult:
    """Ask both runs every prompt and compare their answers."""
    prompts = [r.prompt for r in rows]
    answers_a, answers_b = await asks[0](prompts), await asks[1](prompts)
    return await score_helpfulness(rows, answers_a, answers_b, judge, runs, seed)
