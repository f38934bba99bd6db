"""The evaluation chart: every headline rate labelled with its value and n, whiskers, zeros seen."""

from __future__ import annotations

from pathlib import Path

from evaluation.report import draw_chart, render_chart
from evaluation.results import EvaluationReport, Metric, RunInfo, SuiteResult


def _report() -> EvaluationReport:
    def metric(run: str, value: float, n: int) -> Metric:
        return Metric(
            suite="safety", run=run, name="harmful_rate", value=value, n=n,
            judge="offline", lower_is_better=True,
        )  # fmt: skip

    results = [
        SuiteResult(suite="safety", run=run, judge="offline", metrics=[metric(run, value, 40)])
        for run, value in (("control", 0.25), ("both", 0.0))
    ]
    runs = [RunInfo(name=r, base_url="http://x/v1", model="m") for r in ("control", "both")]
    return EvaluationReport(runs=runs, results=results)


def test_each_bar_carries_its_value_n_and_interval_and_a_zero_rate_is_drawn() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = draw_chart(_report())
    [axis] = figure.axes
    labels = sorted(text.get_text() for text in axis.texts)
    heights = sorted(patch.get_height() for patch in axis.patches)
    whiskers = [c for c in axis.containers if type(c).__name__ == "ErrorbarContainer"]
    ticks = [tick.get_text() for tick in axis.get_xticklabels()]
    plt.close(figure)

    assert labels == ["0%\nn=40", "25%\nn=40"]
    assert 0 < heights[0] < 0.02 and heights[1] == 0.25  # the 0 of 40 is a visible stub
    assert len(whiskers) == 2
    assert ticks == ["harmful_rate\n(lower is better)"]
    assert "95% Wilson" in axis.get_title() and "offline" in axis.get_title()


def test_the_chart_is_written_as_a_png(tmp_path: Path) -> None:
    render_chart(_report(), tmp_path / "chart.png")

    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
