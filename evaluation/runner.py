"""Runs the configured suites against every run and writes JSON, Markdown and a chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from evaluation.cache import AnswerCache
from evaluation.client import EndpointClient
from evaluation.config import EvalConfig, JudgesConfig, SuiteConfig
from evaluation.embeddings import MiniLmEmbedder
from evaluation.judges.base import PairwiseJudge, RefusalJudge, SafetyJudge
from evaluation.judges.llm import LlmJudge
from evaluation.judges.offline import OfflineClassifierJudge
from evaluation.judges.refusal_markers import RefusalMarkerJudge
from evaluation.results import EvaluationReport, RunInfo, SuiteResult
from evaluation.suites.consistency import (
    ChoiceItem,
    choice_items_from_data,
    read_choice_items,
    run_consistency,
)
from evaluation.suites.helpfulness import run_helpfulness
from evaluation.suites.over_refusal import run_over_refusal
from evaluation.suites.prompt_sets import load_prompt_set
from evaluation.suites.safety import run_safety
from evaluation.suites.typos import run_typo_robustness


@dataclass
class Judges:
    """The judges of one evaluation."""

    safety: SafetyJudge
    refusal: RefusalJudge
    pairwise: PairwiseJudge | None = None


class OutputPaths(BaseModel):
    """Where an evaluation's outputs were written."""

    json_path: Path
    markdown_path: Path
    chart_path: Path


def build_judges(config: JudgesConfig, embedder: MiniLmEmbedder | None = None) -> Judges:
    """Judges as configured; the offline judge loads its embedder lazily on first use."""
    markers = RefusalMarkerJudge()
    llm = LlmJudge(config.llm) if config.llm is not None else None
    safety: SafetyJudge
    if config.safety == "offline":
        safety = OfflineClassifierJudge(embedder=embedder)
    elif config.safety == "llm" and llm is not None:
        safety = llm
    else:
        safety = markers
    refusal: RefusalJudge = llm if config.refusal == "llm" and llm is not None else markers
    return Judges(safety=safety, refusal=refusal, pairwise=llm)


def _choice_items(suite: SuiteConfig) -> list[ChoiceItem]:
    if suite.choice_items is not None:
        return read_choice_items(suite.choice_items)
    assert suite.source is not None
    return choice_items_from_data(load_prompt_set(suite.source))


async def _run_one(
    suite: SuiteConfig, client: EndpointClient, judges: Judges, config: EvalConfig
) -> SuiteResult:
    run = client.config.name
    if suite.kind == "consistency":
        return await run_consistency(_choice_items(suite), client.ask, judges.safety, run)
    assert suite.source is not None
    rows = load_prompt_set(suite.source)
    if suite.kind == "safety":
        return await run_safety(rows, client.ask, judges.safety, run)
    if suite.kind == "over_refusal":
        return await run_over_refusal(rows, client.ask, judges.refusal, run)
    return await run_typo_robustness(
        rows, client.ask, judges.safety, run, config.seed, config.typo_rate
    )


async def _run_helpfulness(
    suite: SuiteConfig, clients: Sequence[EndpointClient], judge: PairwiseJudge, seed: int
) -> list[SuiteResult]:
    assert suite.source is not None
    rows = load_prompt_set(suite.source)
    base = clients[0]
    return [
        await run_helpfulness(
            rows, (base.ask, other.ask), judge, (base.config.name, other.config.name), seed
        )
        for other in clients[1:]
    ]


async def evaluate(config: EvalConfig, judges: Judges | None = None) -> EvaluationReport:
    """Run every suite on every run (helpfulness: each run against the first)."""
    judges = judges or build_judges(config.judges)
    cache = AnswerCache(config.output_dir / "answers.sqlite")
    clients = [EndpointClient(run, cache, config.progress) for run in config.runs]
    results: list[SuiteResult] = []
    notes: list[str] = []
    try:
        for suite in config.suites:
            if suite.kind != "helpfulness":
                results += [await _run_one(suite, c, judges, config) for c in clients]
            elif judges.pairwise is None or len(clients) < 2:
                notes.append("helpfulness skipped: needs two runs and an LLM judge")
            else:
                results += await _run_helpfulness(suite, clients, judges.pairwise, config.seed)
    finally:
        cache.close()
    runs = [
        RunInfo(name=r.name, base_url=r.base_url, model=r.model, arm=r.arm) for r in config.runs
    ]
    return EvaluationReport(runs=runs, results=results, notes=notes)


def write_outputs(report: EvaluationReport, output_dir: Path) -> OutputPaths:
    """Write ``report.json``, ``summary.md`` and ``chart.png`` into the output folder."""
    from evaluation.report import render_chart, render_markdown

    output_dir.mkdir(parents=True, exist_ok=True)
    paths = OutputPaths(
        json_path=output_dir / "report.json",
        markdown_path=output_dir / "summary.md",
        chart_path=output_dir / "chart.png",
    )
    paths.json_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    paths.markdown_path.write_text(render_markdown(report), encoding="utf-8")
    render_chart(report, paths.chart_path)
    return paths
