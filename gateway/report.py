"""The experiment report: per-arm traffic, latency, stage outcomes and judged rates."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from gateway.tenants.store import RequestRecord


class JudgedSample(BaseModel):
    """One judged answer from an arm (e.g. written by ``aligngate eval``): 1 = good."""

    arm: str
    metric: str = Field(description="'safety' (1 = safe) or 'helpfulness' (1 = win).")
    value: int = Field(ge=0, le=1)
    judge: str = Field(default="unknown", description="Which judge produced the verdict.")


class Rate(BaseModel):
    """A proportion with its 95% Wilson confidence interval."""

    successes: int
    total: int
    rate: float
    low: float
    high: float
    judge: str


class ArmReport(BaseModel):
    """Everything the report says about one arm."""

    arm: str
    requests: int
    errors: int
    latency_ms: dict[str, float]
    stage_outcomes: dict[str, dict[str, float]]
    judged: dict[str, Rate] = Field(default_factory=dict)


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval: well-behaved for small samples and rates near 0 or 1."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def build_report(
    records: Iterable[RequestRecord], judged: Iterable[JudgedSample] = ()
) -> list[ArmReport]:
    """One report per arm, sorted by arm name."""
    by_arm: dict[str, list[RequestRecord]] = defaultdict(list)
    for record in records:
        by_arm[record.arm or "none"].append(record)
    samples: dict[tuple[str, str], list[JudgedSample]] = defaultdict(list)
    for sample in judged:
        samples[(sample.arm, sample.metric)].append(sample)
    reports = []
    for arm in sorted(set(by_arm) | {arm for arm, _ in samples}):
        rows = by_arm.get(arm, [])
        latencies = [r.duration_ms for r in rows]
        reports.append(
            ArmReport(
                arm=arm,
                requests=len(rows),
                errors=sum(1 for r in rows if r.status >= 400),
                latency_ms={f"p{q}": round(percentile(latencies, q), 2) for q in (50, 95, 99)},
                stage_outcomes=_outcome_rates(rows),
                judged={metric: _rate(group) for (a, metric), group in samples.items() if a == arm},
            )
        )
    return reports


def _outcome_rates(rows: list[RequestRecord]) -> dict[str, dict[str, float]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        for stage, outcome in row.stages.items():
            counts[stage][outcome] += 1
    return {
        stage: {outcome: round(n / sum(c.values()), 4) for outcome, n in sorted(c.items())}
        for stage, c in sorted(counts.items())
    }


def _rate(group: list[JudgedSample]) -> Rate:
    successes = sum(s.value for s in group)
    low, high = wilson(successes, len(group))
    judges = sorted({s.judge for s in group})
    return Rate(
        successes=successes,
        total=len(group),
        rate=successes / len(group),
        low=low,
        high=high,
        judge="+".join(judges),
    )


def load_judged(paths: Iterable[Path]) -> list[JudgedSample]:
    """Judged samples from JSONL files."""
    samples = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                samples.append(JudgedSample.model_validate_json(line))
    return samples


def render(tenant: str, experiment: str, reports: list[ArmReport]) -> str:
    """The report as a Markdown table."""
    lines = [
        f"# Experiment '{experiment}' of tenant '{tenant}'",
        "",
        "| arm | requests | errors | p50 ms | p95 ms | p99 ms | stage outcomes | judged (95% CI) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        outcomes = "; ".join(
            f"{stage}: " + ", ".join(f"{o} {v:.0%}" for o, v in rates.items())
            for stage, rates in r.stage_outcomes.items()
        )
        judged = "; ".join(
            f"{m} {x.rate:.1%} [{x.low:.1%}, {x.high:.1%}] n={x.total} ({x.judge})"
            for m, x in sorted(r.judged.items())
        )
        lines.append(
            f"| {r.arm} | {r.requests} | {r.errors} | {r.latency_ms['p50']} | "
            f"{r.latency_ms['p95']} | {r.latency_ms['p99']} | {outcomes or '-'} | {judged or '-'} |"
        )
    return "\n".join(lines)
