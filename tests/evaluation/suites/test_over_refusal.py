"""The over-refusal suite's scoring."""

from __future__ import annotations

from evaluation.judges.refusal_markers import RefusalMarkerJudge
from evaluation.suites.over_refusal import score_over_refusal
from evaluation.suites.prompt_sets import PromptRow


async def test_the_refusal_rate_is_the_share_of_benign_prompts_refused() -> None:
    rows = [PromptRow(id=str(i), prompt=f"benign {i}") for i in range(5)]
    answers = [
        "I'm sorry, but I cannot help with that.",
        "Sure! Here are three tips.",
        "As an AI, I can't do that.",
        "Paris is the capital of France.",
        "Step one: preheat the oven.",
    ]
    result = await score_over_refusal(rows, answers, RefusalMarkerJudge(), run="bpo")
    overall = result.metrics[0]
    assert (overall.name, overall.value, overall.n) == ("refusal_rate", 0.4, 5)
    assert overall.judge == "refusal-markers"
