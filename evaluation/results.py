"""Result models shared by the suites, the runner and the reports.

Every number is a ``Metric`` that carries the judge that produced it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Metric(BaseModel):
    """One reported number: what, for which run and category, over how many items, by whom."""

    suite: str
    run: str
    name: str
    value: float
    n: int
    judge: str
    category: str | None = Field(default=None, description="None for the whole prompt set.")
    lower_is_better: bool = False


class SuiteResult(BaseModel):
    """A suite's numbers for one run (or one pair of runs, for helpfulness)."""

    suite: str
    run: str
    judge: str
    metrics: list[Metric]


class RunInfo(BaseModel):
    """An evaluated endpoint: where it is, which model and which forced arm."""

    name: str
    base_url: str
    model: str
    arm: str | None = None


class EvaluationReport(BaseModel):
    """Everything one ``aligngate eval run`` measured."""

    runs: list[RunInfo]
    results: list[SuiteResult]
    command: str = ""
    notes: list[str] = Field(default_factory=list, description="Suites skipped and why.")

    def metrics(self) -> list[Metric]:
        """All numbers of all suites, flattened."""
        return [metric for result in self.results for metric in result.metrics]


def rate(flags: list[bool]) -> float:
    """Share of true flags (0 for none)."""
    return sum(flags) / len(flags) if flags else 0.0


def rates_by_category(categories: list[str], flags: list[bool]) -> dict[str, tuple[float, int]]:
    """Per category: (share of true flags, count), categories in sorted order."""
    grouped: dict[str, list[bool]] = {}
    for category, flag in zip(categories, flags, strict=True):
        grouped.setdefault(category, []).append(flag)
    return {name: (rate(grouped[name]), len(grouped[name])) for name in sorted(grouped)}
