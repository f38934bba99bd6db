"""``aligngate experiments report --chart``: the report drawn, every bar labelled with n."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from gateway.report import build_report
from gateway.report_chart import ZERO_STUB, Bar, labelled_bars
from gateway.tenants.sqlite_store import SqliteStore
from gateway.tenants.store import RequestRecord
from tests.support.processes import aligngate


def _record(arm: str, ms: float, status: int = 200) -> RequestRecord:
    return RequestRecord(
        tenant="acme", experiment="rollout", arm=arm, status=status, duration_ms=ms, at=0
    )


async def _store(path: Path, records: list[RequestRecord]) -> None:
    store = SqliteStore(path)
    try:
        for record in records:
            await store.add_record(record)
    finally:
        await store.aclose()


def test_the_report_command_draws_its_chart(tmp_path: Path) -> None:
    records = [_record("control", 10 + i) for i in range(6)]
    records += [_record("treatment", 20 + i, 500 if i == 0 else 200) for i in range(6)]
    database = tmp_path / "state.db"
    asyncio.run(_store(database, records))
    judged = tmp_path / "judged.jsonl"
    judged.write_text(
        "\n".join(json.dumps({"arm": a, "metric": "safety", "value": v, "judge": "offline"})
                  for a, v in [("control", 1), ("control", 0), ("treatment", 1)])
    )  # fmt: skip
    chart = tmp_path / "report.png"

    env = {"ALIGNGATE_SQLITE_PATH": str(database), "PATH": "/usr/bin:/bin"}
    env |= {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}  # a checkout's own code

    done = subprocess.run(
        aligngate("experiments", "report", "acme", "rollout", "--judged", str(judged),
                  "--chart", str(chart)),
        capture_output=True, text=True, env=env,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "| treatment | 6 | 1 |" in done.stdout  # the Markdown report is still printed
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_bar_says_its_value_and_n_and_a_zero_bar_is_still_drawn() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [_record("control", 10), _record("control", 30), _record("treatment", 5, 503)]
    reports = build_report(records)
    figure, axis = plt.subplots()
    series = {r.arm: [Bar(value=r.errors / r.requests, n=r.requests)] for r in reports}
    labelled_bars(axis, ["errors"], series)

    labels = sorted(text.get_text() for text in axis.texts)
    heights = [patch.get_height() for patch in axis.patches]
    plt.close(figure)
    assert labels == ["0%\nn=2", "100%\nn=1"]
    assert min(heights) == pytest.approx(ZERO_STUB * 1.32) and max(heights) == 1.0
