"""The training-loss curve of a run, as the PNG beside its adapter and model card.

    python -m training.loss_plot RUN_DIR [--out loss.png]

reads ``RUN_DIR/training_report.json`` (or the last checkpoint's
``trainer_state.json``) and writes the plot.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

SMOOTHING = 5  # logged points per running mean: a batch-to-batch loss is noisy


def _running_mean(values: Sequence[float]) -> list[float]:
    """The mean of each value and up to ``SMOOTHING - 1`` before it."""
    return [
        sum(values[max(0, i - SMOOTHING + 1) : i + 1]) / (i + 1 - max(0, i - SMOOTHING + 1))
        for i in range(len(values))
    ]


def plot_losses(steps: Sequence[int], losses: Sequence[float], path: Path, title: str) -> None:
    """The logged loss against the optimizer step (and its running mean), ends labelled."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axis = plt.subplots(figsize=(7, 3.6))
    if losses:
        axis.plot(steps, losses, marker="o", markersize=3, linewidth=1, alpha=0.6, label="logged")
        if len(losses) >= 2 * SMOOTHING:
            axis.plot(steps, _running_mean(losses), linewidth=2.2, label=f"mean of {SMOOTHING}")
            axis.legend(fontsize="small", loc="upper right")
        for step, loss in ((steps[0], losses[0]), (steps[-1], losses[-1])):
            axis.annotate(
                f"{loss:.2f}", (step, loss), textcoords="offset points", xytext=(4, 6), fontsize=9
            )
        # Room above the highest point for its label, under the title.
        axis.set_ylim(0, max(losses) * 1.15)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        axis.text(
            0.5, 0.5, "no loss was logged", ha="center", va="center", transform=axis.transAxes
        )
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("training loss (reply tokens)")
    axis.set_title(f"Training loss: {title} ({len(losses)} logged points)", fontsize=10)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def run_losses(run_dir: Path) -> tuple[list[int], list[float]]:
    """(steps, losses) from a run's report, else from its last checkpoint's trainer state."""
    report = run_dir / "training_report.json"
    if report.is_file():
        data = json.loads(report.read_text())
        if data.get("loss_steps"):
            return list(data["loss_steps"]), list(data["losses"])
    states = sorted(
        run_dir.glob("checkpoints/checkpoint-*/trainer_state.json"),
        key=lambda p: int(p.parent.name.rsplit("-", 1)[1]),
    )
    if not states:
        raise FileNotFoundError(f"{run_dir}: no training_report.json with steps, no trainer_state")
    history = json.loads(states[-1].read_text())["log_history"]
    logged = [e for e in history if "loss" in e]
    return [int(e["step"]) for e in logged], [float(e["loss"]) for e in logged]


def main(argv: Sequence[str] | None = None) -> int:
    """Plot one run's loss."""
    parser = argparse.ArgumentParser(prog="python -m training.loss_plot", description=__doc__)
    parser.add_argument("run_dir", type=Path, help="The run's output_dir.")
    parser.add_argument("--out", type=Path, help="Default: RUN_DIR/loss.png.")
    arguments = parser.parse_args(argv)
    steps, losses = run_losses(arguments.run_dir)
    out = arguments.out or arguments.run_dir / "loss.png"
    plot_losses(steps, losses, out, title=arguments.run_dir.name)
    print(f"{len(losses)} points -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
