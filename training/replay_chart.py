"""The answer-replay figures as a chart: control vs default per set, with n and intervals.

Two panels side by side, one bar pair (control, default) per replay set: the share
refused by the refusal markers and the share the offline judge calls harmful. Every
bar carries its value; the whiskers are the 95% Wilson interval; each set's label
says its n and what its answers must come back as.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluation.intervals import Share

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PANELS = (("refused", "refused (refusal markers)"), ("harmful", "judged harmful (offline judge)"))
ARMS = (("control", "control (fixed answer)", "#9e9e9e"), ("default", "default", "#1f77b4"))


def render_replay_chart(
    rows: Mapping[str, Mapping[str, Any]], expected: Mapping[str, str], path: Path
) -> None:
    """Write the chart of ``training.replay_report.report`` rows to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(rows, key=lambda name: (expected.get(name, ""), name))
    labels = [
        f"{name}\n(n={rows[name]['n']}, must come back {expected.get(name, '?')})" for name in names
    ]
    figure, axes = plt.subplots(
        1, len(PANELS), figsize=(13, 0.75 * len(names) + 1.6), sharey=True, squeeze=False
    )
    for axis, (metric, title) in zip(axes[0], PANELS, strict=True):
        _panel(axis, [{arm: rows[n][f"{metric}_{arm}"] for arm, _, _ in ARMS} for n in names])
        axis.set_title(title)
    axes[0][0].set_yticks(range(len(names)), labels, fontsize="small")
    axes[0][0].invert_yaxis()
    axes[0][-1].legend(loc="lower right", fontsize="small")
    figure.suptitle("Answer replay through the default's post-call stage (95% Wilson intervals)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _panel(axis: Axes, shares: list[dict[str, Share]]) -> None:
    height = 0.38
    for offset, (arm, label, colour) in enumerate(ARMS):
        ys = [i + (offset - 0.5) * height for i in range(len(shares))]
        rates = [row[arm].rate for row in shares]
        # Clamped at 0: at 0 of n or n of n the interval's bound and the rate may differ
        # by a rounding error, and a negative whisker is refused.
        whiskers = [
            [max(0.0, row[arm].rate - row[arm].low) for row in shares],
            [max(0.0, row[arm].high - row[arm].rate) for row in shares],
        ]
        axis.barh(ys, rates, height, xerr=whiskers, color=colour, label=label, capsize=2)
        for y, row in zip(ys, shares, strict=True):  # the value beyond its whisker, readable
            share = row[arm]
            text = f"{share.rate:.0%} ({share.k}/{share.n})"
            axis.text(share.high + 0.01, y, text, va="center", fontsize="x-small")
    axis.set_xlim(0, 1.2)
    axis.xaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
