"""Bar charts people read at a glance: every bar labelled, n shown, 95% intervals drawn.

``labelled_bars`` draws one panel of grouped bars (the evaluation report's chart uses it
too); ``render_report_chart`` is ``aligngate experiments report --chart``: per arm, the
judged rates and the error rate with their Wilson intervals, and the latency
percentiles. matplotlib (the ``eval`` extra) is imported only when a chart is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from gateway.report import ArmReport, wilson

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# A bar at exactly zero is drawn this tall (share of the axis) and hatched, so a 0%
# reads as "measured, none" instead of looking like a missing bar.
ZERO_STUB = 0.008
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")


class Bar(BaseModel):
    """One bar: its value, optional 95% interval, and the count behind it."""

    value: float
    low: float | None = None
    high: float | None = None
    n: int | None = None


def share_bar(successes: int, total: int) -> Bar:
    """``successes/total`` with its 95% Wilson interval."""
    low, high = wilson(successes, total)
    return Bar(value=successes / total if total else 0.0, low=low, high=high, n=total)


def labelled_bars(
    axis: Axes,
    groups: Sequence[str],
    series: Mapping[str, Sequence[Bar | None]],
    percent: bool = True,
) -> None:
    """Grouped bars (one group per label, one colour per series), each with value and n."""
    from matplotlib.patches import Patch

    count = max(len(series), 1)
    width = 0.8 / count
    tops = [b.high if b.high is not None else b.value for s in series.values() for b in s if b]
    # Headroom above the tallest whisker for its label and a one-row legend.
    ceiling = (1.0 if percent else max(tops, default=1.0) or 1.0) * 1.32
    handles = []
    for index, (name, bars) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        for group, bar in enumerate(bars):
            if bar is not None:
                x = group + (index - (count - 1) / 2) * width
                _bar(axis, x, width, bar, colour, ceiling, percent)
        handles.append(Patch(facecolor=colour, edgecolor="black", linewidth=0.6, label=name))
    axis.set_xticks(range(len(groups)), groups, fontsize="small")
    axis.set_xlim(-0.5, len(groups) - 0.5)
    axis.set_ylim(0, ceiling)
    if percent:
        axis.set_yticks([i / 5 for i in range(6)])
        axis.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    axis.grid(axis="y", alpha=0.3)
    axis.set_axisbelow(True)
    if handles:
        axis.legend(handles=handles, fontsize="small", loc="upper left", ncols=len(handles))


def _bar(
    axis: Axes, x: float, width: float, bar: Bar, colour: str, ceiling: float, percent: bool
) -> None:
    zero = bar.value == 0
    height = ceiling * ZERO_STUB if zero else bar.value
    axis.bar(
        x, height, width * 0.92, color=colour, edgecolor="black", linewidth=0.6,
        hatch="////" if zero else None, alpha=0.55 if zero else 1.0,
    )  # fmt: skip
    top = bar.value
    if bar.low is not None and bar.high is not None:
        # Clamped: at 0 of n or n of n a bound and the rate may differ by a rounding error.
        whiskers = [[max(0.0, bar.value - bar.low)], [max(0.0, bar.high - bar.value)]]
        axis.errorbar(x, bar.value, yerr=whiskers, fmt="none", ecolor="black", capsize=3, lw=1)
        top = bar.high
    value = _percent(bar.value) if percent else f"{bar.value:,.0f}"
    label = value if bar.n is None else f"{value}\nn={bar.n}"
    axis.text(x, top + ceiling * 0.015, label, ha="center", va="bottom", fontsize="x-small")


def _percent(value: float) -> str:
    """12%, 12.5%: a tenth of a percent only where it is not zero."""
    text = f"{value:.1%}"
    return text.replace(".0%", "%")


def render_report_chart(
    tenant: str, experiment: str, reports: Sequence[ArmReport], path: Path
) -> None:
    """Write the experiment report's chart (PNG): judged and error rates, then latency."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    arms = [r.arm for r in reports]
    metrics = sorted({m for r in reports for m in r.judged})
    figure, (rates, latency) = plt.subplots(1, 2, figsize=(12, 4.4))
    per_arm = {
        r.arm: [*(_judged(r, m) for m in metrics), share_bar(r.errors, r.requests)] for r in reports
    }
    labelled_bars(rates, [_rate_label(m, reports) for m in [*metrics, "errors"]], per_arm)
    rates.set_title("Judged rates and error rate per arm (95% Wilson intervals)", fontsize=10)
    quantiles = ("p50", "p95", "p99")
    labelled_bars(
        latency,
        [f"{q} latency" for q in quantiles],
        {r.arm: [Bar(value=r.latency_ms[q], n=r.requests) for q in quantiles] for r in reports},
        percent=False,
    )
    latency.set_ylabel("milliseconds")
    latency.set_title("Request latency per arm (n = requests)", fontsize=10)
    figure.suptitle(f"Experiment '{experiment}' of tenant '{tenant}': arms {', '.join(arms)}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _judged(report: ArmReport, metric: str) -> Bar | None:
    rate = report.judged.get(metric)
    if rate is None:
        return None
    return Bar(value=rate.rate, low=rate.low, high=rate.high, n=rate.total)


def _rate_label(metric: str, reports: Sequence[ArmReport]) -> str:
    if metric == "errors":
        return "errors (status >= 400)"
    judges = sorted({r.judged[metric].judge for r in reports if metric in r.judged})
    return f"{metric}\n(judge: {', '.join(judges)})"
