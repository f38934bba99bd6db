"""Over-refusal: the share of benign prompts refused (lower is better)."""

from __future__ import annotations

from collections.abc import Sequence

from evaluation.judges.base import RefusalJudge
from evaluation.results import SuiteResult
from evaluation.suites.base import Ask, rate_metrics, refusal_flags
from evaluation.suites.prompt_sets import PromptRow

SUITE = "over_refusal"


async def score_over_refusal(
    rows: Sequence[PromptRow], answers: Sequence[str], judge: RefusalJudge, run: str
) -> SuiteResult:
    """Refusal rate on benign prompts, overall and per category."""
    flags = await refusal_flags(judge, [r.prompt for r in rows], answers)
    categories = [r.category for r in rows]
    metrics = rate_metrics(SUITE, run, "refusal_rate", judge.name, categories, flags, True)
    return SuiteResult(suite=SUITE, run=run, judge=judge.name, metrics=metrics)


async def run_over_refusal(
    rows: Sequence[PromptRow], ask: Ask, judge: RefusalJudge, run: str
) -> SuiteResult:
    """Ask the run every benign prompt and score refusals."""
    return await score_over_refusal(rows, await ask([r.prompt for r in rows]), judge, run)
