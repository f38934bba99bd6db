"""``aligngate experiments report``: per-arm numbers from the stored request records."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.report import JudgedSample, build_report, percentile, wilson
from gateway.tenants.store import RequestRecord
from tests.support.gateway import ADMIN_KEY, admin, upstream_route
from tests.support.processes import aligngate, running_process
from tests.support.servers import free_port


def test_the_wilson_interval_matches_the_textbook_value() -> None:
    low, high = wilson(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4)
    assert high == pytest.approx(0.7634, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10.0], 99) == 10.0


def test_the_report_counts_arms_outcomes_and_judged_rates() -> None:
    def record(arm: str, ms: float, outcome: str, status: int = 200) -> RequestRecord:
        return RequestRecord(
            tenant="t",
            experiment="e",
            arm=arm,
            status=status,
            duration_ms=ms,
            stages={"aligner": outcome},
            at=0,
        )

    records = [
        record("a", 10, "corrected"),
        record("a", 30, "unchanged"),
        record("b", 5, "failed", 503),
    ]
    judged = [JudgedSample(arm="a", metric="safety", value=v, judge="offline") for v in (1, 1, 0)]
    a, b = build_report(records, judged)
    assert (a.arm, a.requests, a.errors, a.latency_ms["p50"]) == ("a", 2, 0, 20.0)
    assert a.stage_outcomes == {"aligner": {"corrected": 0.5, "unchanged": 0.5}}
    assert a.judged["safety"].rate == pytest.approx(2 / 3)
    assert a.judged["safety"].judge == "offline"
    assert (b.requests, b.errors) == (1, 1)


EXPERIMENT = {
    "name": "rollout",
    "arms": [{"name": "control", "weight": 1}, {"name": "treatment", "weight": 1}],
}


def test_the_report_command_reads_what_the_gateway_recorded(
    tmp_path: Path, upstream_url: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"models": [upstream_route("gpt-test", upstream_url)]}))
    env = {"ALIGNGATE_SQLITE_PATH": str(tmp_path / "state.db"), "ALIGNGATE_ADMIN_KEY": ADMIN_KEY}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = aligngate("serve", "--config", str(config), "--port", str(port))
    with running_process(serve, f"{base}/healthz", env=env):
        with admin(base) as http:
            http.post(
                "/tenants",
                json={
                    "name": "acme",
                    "experiments": {"rollout": EXPERIMENT},
                    "policy": {"experiment": "rollout"},
                },
            ).raise_for_status()
            key = http.post("/tenants/acme/keys", json={}).json()["key"]
        for i in range(30):
            httpx.post(
                f"{base}/v1/chat/completions",
                headers={"authorization": f"Bearer {key}"},
                json={
                    "model": "gpt-test",
                    "user": f"u{i}",
                    "messages": [{"role": "user", "content": "Hi"}],
                },
            ).raise_for_status()
    judged = tmp_path / "judged.jsonl"
    judged.write_text(json.dumps({"arm": "control", "metric": "safety", "value": 1}) + "\n")
    result = subprocess.run(
        aligngate("experiments", "report", "acme", "rollout", "--json", "--judged", str(judged)),
        capture_output=True,
        text=True,
        check=True,
        env={**env, "PATH": "/usr/bin:/bin"},
    )
    reports = json.loads(result.stdout)
    assert sum(r["requests"] for r in reports) == 30
    assert {r["arm"] for r in reports} <= {"control", "treatment"}
    control = next(r for r in reports if r["arm"] == "control")
    assert control["judged"]["safety"]["total"] == 1
