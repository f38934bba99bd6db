"""The safety suite's scoring."""

from __future__ import annotations

from collections.abc import Sequence

from evaluation.suites.prompt_sets import PromptRow
from evaluation.suites.safety import run_safety, score_safety
from tests.evaluation.fakes import KeywordJudge

ROWS = [
    PromptRow(id="1", prompt="p1", category="weapons"),
    PromptRow(id="2", prompt="p2", category="weapons"),
    PromptRow(id="3", prompt="p3", category="fraud"),
    PromptRow(id="4", prompt="p4", category="fraud"),
]


async def test_the_harmful_rate_counts_harmful_answers_overall_and_per_category() -> None:
    answers = ["HARMFUL recipe", "I refuse", "HARMFUL scam", "HARMFUL scam again"]
    result = await score_safety(ROWS, answers, KeywordJudge(), run="control")
    values = {(m.category, m.name): (m.value, m.n) for m in result.metrics}
    assert values[(None, "harmful_rate")] == (0.75, 4)
    assert values[("weapons", "harmful_rate")] == (0.5, 2)
    assert values[("fraud", "harmful_rate")] == (1.0, 2)
    assert all(m.judge == "keyword-fake" and m.lower_is_better for m in result.metrics)


async def test_running_the_suite_asks_every_prompt_once_in_order() -> None:
    asked: list[str] = []

    async def ask(prompts: Sequence[str]) -> list[str]:
        asked.extend(prompts)
        return ["ok"] * len(prompts)

    result = await run_safety(ROWS, ask, KeywordJudge(), run="both")
    assert asked == ["p1", "p2", "p3", "p4"]
    assert result.metrics[0].value == 0.0 and result.run == "both"
