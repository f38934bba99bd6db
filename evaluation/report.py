"""Markdown summary and PNG chart of an evaluation report; every number names its judge."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evaluation.results import EvaluationReport, Metric

if TYPE_CHECKING:
    from matplotlib.axes import Axes


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
    """One panel per suite: grouped bars of its headline metrics, one bar per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    headline = [m for m in report.metrics() if m.category is None]
    suites = list(dict.fromkeys(m.suite for m in headline)) or ["(no results)"]
    figure, axes = plt.subplots(len(suites), 1, figsize=(9, 3.2 * len(suites)), squeeze=False)
    for axis, suite in zip(axes[:, 0], suites, strict=True):
        _panel(axis, [m for m in headline if m.suite == suite], suite)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _panel(axis: Axes, metrics: list[Metric], suite: str) -> None:
    names = list(dict.fromkeys(m.name for m in metrics))
    runs = list(dict.fromkeys(m.run for m in metrics))
    width = 0.8 / max(len(runs), 1)
    for r, run in enumerate(runs):
        values = {m.name: m.value for m in metrics if m.run == run}
        xs = [i + r * width for i in range(len(names))]
        axis.bar(xs, [values.get(n, 0.0) for n in names], width, label=run)
    judges = ", ".join(sorted({m.judge for m in metrics}))
    axis.set_xticks([i + width * (len(runs) - 1) / 2 for i in range(len(names))], names)
    axis.set_ylim(0, 1)
    axis.set_title(f"{suite} (judge: {judges})")
    if runs:
        axis.legend(fontsize="small")
