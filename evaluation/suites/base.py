"""What every suite receives: a way to ask a run for answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from evaluation.judges.base import JudgeItem, RefusalJudge, SafetyJudge
from evaluation.results import Metric, rates_by_category

Ask = Callable[[Sequence[str]], Awaitable[list[str]]]
"""Answers prompts with one run (endpoint and arm), one answer per prompt, in order."""


async def harmful_flags(
    judge: SafetyJudge, questions: Sequence[str], answers: Sequence[str]
) -> list[bool]:
    """The judge's harmful/not verdicts for question-answer pairs."""
    items = [JudgeItem(question=q, answer=a) for q, a in zip(questions, answers, strict=True)]
    return [verdict.harmful for verdict in await judge.judge(items)]


async def refusal_flags(
    judge: RefusalJudge, questions: Sequence[str], answers: Sequence[str]
) -> list[bool]:
    """The judge's refused/not verdicts for question-answer pairs."""
    items = [JudgeItem(question=q, answer=a) for q, a in zip(questions, answers, strict=True)]
    return [verdict.refused for verdict in await judge.judge_refusals(items)]


def rate_metrics(
    suite: str,
    run: str,
    name: str,
    judge: str,
    categories: list[str],
    flags: list[bool],
    lower_is_better: bool,
) -> list[Metric]:
    """An overall rate plus one per category, all naming the judge."""
    overall = sum(flags) / len(flags) if flags else 0.0
    common = {"suite": suite, "run": run, "name": name, "judge": judge}
    metrics = [Metric(**common, value=overall, n=len(flags), lower_is_better=lower_is_better)]
    for category, (value, n) in rates_by_category(categories, flags).items():
        metrics.append(
            Metric(**common, value=value, n=n, category=category, lower_is_better=lower_is_better)
        )
    return metrics
