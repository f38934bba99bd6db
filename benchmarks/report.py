"""Turn a pytest-benchmark JSON into a Markdown table and a PNG chart.

Usage::

    pytest benchmarks --benchmark-only --benchmark-json=bench.json
    python -m benchmarks.report bench.json --out bench-report/

Each group gets one table, its targets sorted by median with their ratio to the
group's fastest; figures a benchmark recorded in ``extra_info`` (the load test's
error rate, percentiles, memory) are listed under their table.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

UNGROUPED = "(no group)"


class _Lenient(BaseModel):
    # pytest-benchmark writes many more fields than a report needs.
    model_config = ConfigDict(extra="ignore")


class Stats(_Lenient):
    """Timing statistics of one benchmark, in seconds."""

    min: float
    max: float
    mean: float
    median: float
    stddev: float
    rounds: int


class Benchmark(_Lenient):
    """One measured target."""

    name: str
    group: str | None = None
    stats: Stats
    extra_info: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """The test name without its ``test_`` prefix."""
        return self.name.removeprefix("test_")


class BenchmarkRun(_Lenient):
    """A pytest-benchmark JSON file."""

    benchmarks: list[Benchmark]
    datetime: str | None = None


def load_run(path: Path) -> BenchmarkRun:
    """Read and validate a ``--benchmark-json`` file."""
    return BenchmarkRun.model_validate(json.loads(path.read_text(encoding="utf-8")))


def by_group(run: BenchmarkRun) -> dict[str, list[Benchmark]]:
    """Benchmarks per group, in file order of groups, each sorted fastest first by median."""
    groups: dict[str, list[Benchmark]] = defaultdict(list)
    for bench in run.benchmarks:
        groups[bench.group or UNGROUPED].append(bench)
    return {name: sorted(items, key=lambda b: b.stats.median) for name, items in groups.items()}


def markdown(run: BenchmarkRun) -> str:
    """The whole report as Markdown: one table per group, extra figures below each."""
    lines = ["# Benchmark results", ""]
    if run.datetime:
        lines += [f"Run: {run.datetime}", ""]
    for group, benches in by_group(run).items():
        fastest = benches[0].stats.median
        lines += [
            f"## {group}",
            "",
            "| target | median ms | mean ms | min ms | stddev ms | rounds | vs fastest |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for bench in benches:
            s = bench.stats
            ratio = s.median / fastest if fastest > 0 else float("nan")
            lines.append(
                f"| {bench.label} | {_ms(s.median)} | {_ms(s.mean)} | {_ms(s.min)} "
                f"| {_ms(s.stddev)} | {s.rounds} | {ratio:.2f}× |"
            )
        lines.append("")
        for bench in benches:
            if bench.extra_info:
                lines += [f"**{bench.label}**", ""]
                lines += [f"- {key}: {value}" for key, value in _flatten(bench.extra_info)]
                lines.append("")
    return "\n".join(lines)


def chart(run: BenchmarkRun, path: Path) -> None:
    """A PNG with one bar chart of medians per compared group, each on its own scale."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    # A group of one (the load test's single long round) compares nothing.
    groups = {g: b for g, b in by_group(run).items() if len(b) > 1} or by_group(run)
    height = sum(1.0 + 0.45 * len(benches) for benches in groups.values())
    figure, axes = plt.subplots(len(groups), 1, figsize=(9, max(height, 2.5)), squeeze=False)
    for axis, (group, benches) in zip(axes[:, 0], groups.items(), strict=True):
        fastest = benches[0].stats.median
        medians = [b.stats.median * 1000 for b in benches]
        axis.barh([_short(b.label) for b in benches], medians, color="tab:blue")
        axis.invert_yaxis()  # fastest on top, as in the table
        for y, (bench, median) in enumerate(zip(benches, medians, strict=True)):
            ratio = bench.stats.median / fastest if fastest > 0 else float("nan")
            axis.text(median, y, f" {median:.2f} ms ({ratio:.2f}×)", va="center", fontsize=8)
        axis.set_title(group)
        axis.set_xlabel("median latency (ms)")
        axis.set_xlim(0, max(medians) * 1.45)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(result: Path, out: Path) -> tuple[Path, Path]:
    """Write ``benchmark.md`` and ``benchmark.png`` for ``result`` into ``out``."""
    run = load_run(result)
    out.mkdir(parents=True, exist_ok=True)
    table, image = out / "benchmark.md", out / "benchmark.png"
    table.write_text(markdown(run) + "\n", encoding="utf-8")
    chart(run, image)
    return table, image


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.report RESULT.json --out DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("result", type=Path, help="JSON written by --benchmark-json.")
    parser.add_argument("--out", type=Path, default=Path("benchmark-report"), help="Directory.")
    args = parser.parse_args(argv)
    table, image = write_report(args.result, args.out)
    print(f"wrote {table} and {image}")


def _short(label: str, width: int = 40) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def _flatten(info: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in info.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            items += _flatten(value, f"{name}.")
        else:
            items.append((name, value))
    return items


if __name__ == "__main__":
    main()
