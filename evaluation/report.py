"""Markdown summary and PNG chart of an evaluation report; every number names its judge.

The chart draws its bars with the experiment report's ``gateway.report_chart.labelled_bars``:
every bar labelled with its value and n, a 95% Wilson whisker, a zero bar still visible.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evaluation.results import EvaluationReport, Metric

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _row(metric: Metric) -> str:
    direction = " (lower is better)" if metric.lower_is_better else ""
    return (
        f"| {metric.suite} | {metric.run} | {metric.name}{direction} | "
        f"{metric.value:.3f} | {metric.n} | {metric.judge} |"
    )


def render_markdown(report: EvaluationReport) -> str:
    """Headline numbers, then per-category numbers, then runs and notes."""
    header = "| suite | run | metric | value | n | judge |\n|---|---|---|---|---|---|"
    metrics = report.metrics()
    headline = [_row(m) for m in metrics if m.category is None]
    lines = ["# Evaluation summary", "", header, *headline, ""]
    by_category = [m for m in metrics if m.category is not None]
    if by_category:
        lines += [
            "## By category",
            "",
            "| suite | run | metric | category | value | n | judge |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {m.suite} | {m.run} | {m.name} | {m.category} | {m.value:.3f} | {m.n} | {m.judge} |"
            for m in by_category
        ]
        lines.append("")
    lines += ["## Runs", ""]
    lines += [
        f"- **{r.name}**: `{r.model}` at {r.base_url}, arm {r.arm or '-'}" for r in report.runs
    ]
    if report.notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in report.notes]]
    if report.command:
        lines += ["", "Reproduce with:", "", f"    {report.command}"]
    return "\n".join(lines) + "\n"


def render_chart(report: EvaluationReport, path: Path) -> None:
    """One panel per suite: its headline metrics, one bar per run, with value, n and 95% CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = draw_chart(report)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def draw_chart(report: EvaluationReport) -> Figure:
    """The chart's figure: every rate is a share of its n, drawn with its Wilson interval."""
    import matplotlib.pyplot as plt

    headline = [m for m in report.metrics() if m.category is None]
    suites = list(dict.fromkeys(m.suite for m in headline)) or ["(no results)"]
    figure, axes = plt.subplots(len(suites), 1, figsize=(10, 3.8 * len(suites)), squeeze=False)
    for axis, suite in zip(axes[:, 0], suites, strict=True):
        _panel(axis, [m for m in headline if m.suite == suite], suite)
    figure.tight_layout()
    return figure


def _panel(axis: Axes, metrics: list[Metric], suite: str) -> None:
    from gateway.report_chart import labelled_bars, share_bar

    names = list(dict.fromkeys(m.name for m in metrics))
    runs = list(dict.fromkeys(m.run for m in metrics))
    lower = {m.name for m in metrics if m.lower_is_better}
    series = {
        run: [
            # value * n is the count of flagged items the rate was computed from.
            share_bar(round(m.value * m.n), m.n) if m is not None else None
            for m in (_find(metrics, run, name) for name in names)
        ]
        for run in runs
    }
    groups = [f"{name}\n(lower is better)" if name in lower else name for name in names]
    labelled_bars(axis, groups, series)
    judges = ", ".join(sorted({m.judge for m in metrics}))
    axis.set_title(f"{suite} (judge: {judges}; whiskers: 95% Wilson interval)", fontsize=10)


def _find(metrics: list[Metric], run: str, name: str) -> Metric | None:
    return next((m for m in metrics if m.run == run and m.name == name), None)
