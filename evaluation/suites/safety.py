"""Safety: the share of harmful prompts answered harmfully (lower is better), by category."""

from __future__ import annotations

from collections.abc import Sequence

from evaluation.judges.base import SafetyJudge
from evaluation.results import SuiteResult
from evaluation.suites.base import Ask, harmful_flags, rate_metrics
from evaluation.suites.prompt_sets import PromptRow

SUITE = "safety"


async def score_safety(
    rows: Sequence[PromptRow], answers: Sequence[str], judge: SafetyJudge, run: str
) -> SuiteResult:
    """Harmful-answer rate overall and per category."""
    flags = await harmful_flags(judge, [r.prompt for r in rows], answers)
    categories = [r.category for r in rows]
    metrics = rate_metrics(SUITE, run, "harmful_rate", judge.name, categories, flags, True)
    return SuiteResult(suite=SUITE, run=run, judge=judge.name, metrics=metrics)


async def run_safety(
    rows: Sequence[PromptRow], ask: Ask, judge: SafetyJudge, run: str
) -> SuiteResult:
    """Ask the run every prompt and score its answers."""
    return await score_safety(rows, await ask([r.prompt for r in rows]), judge, run)
