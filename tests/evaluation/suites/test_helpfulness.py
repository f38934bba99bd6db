"""The helpfulness suite: pairwise, both orders, inconsistent verdicts as ties."""

from __future__ import annotations

from evaluation.suites.helpfulness import score_helpfulness
from evaluation.suites.prompt_sets import PromptRow
from tests.evaluation.fakes import AlwaysFirstJudge, PreferGoodJudge

ROWS = [PromptRow(id=str(i), prompt=f"q{i}") for i in range(3)]
ANSWERS_A = ["bad", "good A", "good A"]
ANSWERS_B = ["good B", "bad", "good B"]


def _values(result: object) -> dict[str, float]:
    return {m.name: m.value for m in result.metrics}  # type: ignore[attr-defined]


async def test_b_wins_loses_and_ties_by_a_consistent_judge() -> None:
    result = await score_helpfulness(
        ROWS, ANSWERS_A, ANSWERS_B, PreferGoodJudge(), runs=("control", "both")
    )
    assert _values(result) == {
        "win_rate": 1 / 3,
        "tie_rate": 1 / 3,
        "loss_rate": 1 / 3,
        "inconsistent_rate": 0.0,
    }
    assert result.run == "both vs control" and result.judge == "prefer-good-fake"


async def test_a_position_biased_judge_yields_only_ties() -> None:
    result = await score_helpfulness(
        ROWS, ANSWERS_A, ANSWERS_B, AlwaysFirstJudge(), runs=("control", "both")
    )
    assert _values(result) == {
        "win_rate": 0.0,
        "tie_rate": 1.0,
        "loss_rate": 0.0,
        "inconsistent_rate": 1.0,
    }


async def test_each_pair_is_shown_in_both_orders_starting_in_a_seeded_random_order() -> None:
    rows = [PromptRow(id=str(i), prompt=f"q{i}") for i in range(20)]
    judge = PreferGoodJudge()
    await score_helpfulness(rows, ["a"] * 20, ["b"] * 20, judge, ("x", "y"), seed=7)
    firsts = [item.answer_a for item in judge.seen[::2]]
    seconds = [item.answer_a for item in judge.seen[1::2]]
    assert all(f != s for f, s in zip(firsts, seconds, strict=True))
    assert 0 < firsts.count("b") < 20
    again = PreferGoodJudge()
    await score_helpfulness(rows, ["a"] * 20, ["b"] * 20, again, ("x", "y"), seed=7)
    assert [item.answer_a for item in again.seen[::2]] == firsts
