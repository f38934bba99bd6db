"""``python -m benchmarks.report`` turns a pytest-benchmark JSON into a table and a chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.report import main


def _bench(name: str, group: str | None, median_s: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "fullname": f"benchmarks/test_x.py::{name}",
        "group": group,
        "params": None,
        "stats": {
            "min": median_s * 0.9,
            "max": median_s * 1.5,
            "mean": median_s * 1.1,
            "median": median_s,
            "stddev": median_s * 0.05,
            "rounds": 100,
            "iterations": 1,
            "ops": 1 / median_s,
        },
        "extra_info": extra,
    }


@pytest.fixture
def result(tmp_path: Path) -> Path:
    """A hand-made run: two latency groups, listed slowest first, and a load test."""
    run = {
        "machine_info": {"node": "test"},
        "datetime": "2026-01-01T00:00:00",
        "version": "5.1.0",
        "benchmarks": [
            _bench("test_litellm_proxy", "passthrough", 0.006),
            _bench("test_gateway_direct_path", "passthrough", 0.003),
            _bench("test_upstream_called_directly", "passthrough", 0.002),
            _bench("test_gateway_direct_path_streaming", "passthrough-stream", 0.004),
            _bench("test_upstream_called_directly_streaming", "passthrough-stream", 0.004),
            _bench("test_load", "load", 120.0, error_rate=0.0, stream={"p99_ms": 41.5}),
        ],
    }
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(run))
    return path


def _rows(table: str, group: str) -> list[list[str]]:
    section = table.split(f"## {group}\n", 1)[1].lstrip("\n").split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines()[2:]]
    return [[cell.strip() for cell in row] for row in rows]


def test_each_group_lists_its_targets_fastest_first_with_the_ratio_to_the_fastest(
    result: Path, tmp_path: Path
) -> None:
    main([str(result), "--out", str(tmp_path / "report")])
    table = (tmp_path / "report" / "benchmark.md").read_text()
    rows = _rows(table, "passthrough")
    assert [row[0] for row in rows] == [
        "upstream_called_directly",
        "gateway_direct_path",
        "litellm_proxy",
    ]
    assert [row[1] for row in rows] == ["2.000", "3.000", "6.000"]
    assert [row[-1] for row in rows] == ["1.00×", "1.50×", "3.00×"]
    assert [row[-1] for row in _rows(table, "passthrough-stream")] == ["1.00×", "1.00×"]


def test_figures_recorded_by_a_benchmark_are_listed_under_its_table(
    result: Path, tmp_path: Path
) -> None:
    main([str(result), "--out", str(tmp_path)])
    table = (tmp_path / "benchmark.md").read_text()
    load = table.split("## load", 1)[1]
    assert "- error_rate: 0.0" in load
    assert "- stream.p99_ms: 41.5" in load


def test_the_chart_is_a_png_file(result: Path, tmp_path: Path) -> None:
    main([str(result), "--out", str(tmp_path)])
    image = (tmp_path / "benchmark.png").read_bytes()
    assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 5_000
