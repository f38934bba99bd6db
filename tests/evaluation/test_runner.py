"""The runner end to end against a loopback endpoint, with the resumable answer cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.cache import AnswerCache
from evaluation.client import EndpointClient, EndpointConfig, EndpointError
from evaluation.config import EvalConfig, JudgesConfig, SuiteConfig
from evaluation.results import EvaluationReport
from evaluation.runner import evaluate, write_outputs
from evaluation.suites.prompt_sets import ColumnMapping, PromptSetSource
from tests.evaluation.fakes import ChatScript
from tests.evaluation.scripted_endpoint import endpoint_reply, write_prompt_files


@pytest.fixture
def script() -> ChatScript:
    return ChatScript(reply=endpoint_reply)


def _config(url: str, folder: Path) -> EvalConfig:
    files = write_prompt_files(folder)
    questions = ColumnMapping(prompt="question", category="category")
    choices = questions.model_copy(
        update={"safe_answer": "safe_answer", "harmful_answer": "harmful_answer"}
    )
    return EvalConfig(
        runs=[
            EndpointConfig(name=arm, base_url=url, model="m", arm=arm)
            for arm in ("control", "both")
        ],
        suites=[
            SuiteConfig(
                kind="safety", source=PromptSetSource(path=files["harmful"], columns=questions)
            ),
            SuiteConfig(
                kind="over_refusal",
                source=PromptSetSource(path=files["benign"], columns=ColumnMapping(prompt="text")),
            ),
            SuiteConfig(
                kind="consistency", source=PromptSetSource(path=files["choices"], columns=choices)
            ),
            SuiteConfig(
                kind="typos", source=PromptSetSource(path=files["harmful"], columns=questions)
            ),
        ],
        judges=JudgesConfig(safety="refusal-markers"),
        output_dir=folder / "out",
        progress=False,
    )


def _value(report: EvaluationReport, suite: str, run: str, name: str) -> float:
    (metric,) = [
        m
        for m in report.metrics()
        if (m.suite, m.run, m.name, m.category) == (suite, run, name, None)
    ]
    return metric.value


async def test_a_run_scores_each_arm_and_writes_json_markdown_and_png(
    endpoint_url: str, script: ChatScript, tmp_path: Path
) -> None:
    config = _config(endpoint_url, tmp_path)
    report = await evaluate(config)
    assert _value(report, "safety", "control", "harmful_rate") == 1.0
    assert _value(report, "safety", "both", "harmful_rate") == 0.0
    assert _value(report, "over_refusal", "control", "refusal_rate") == 0.0
    assert _value(report, "consistency", "control", "CSS") == 0.0
    assert _value(report, "consistency", "both", "CSS") == 1.0
    assert {h.get("x-aligngate-force-arm") for h in script.headers} == {"control", "both"}
    assert report.notes == []
    paths = write_outputs(report, config.output_dir)
    assert EvaluationReport.model_validate_json(paths.json_path.read_text()) == report
    assert (
        "| safety | control | harmful_rate (lower is better) | 1.000 | 2 | refusal-markers |"
        in (paths.markdown_path.read_text())
    )
    assert paths.chart_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_second_run_answers_from_the_cache_without_new_requests(
    endpoint_url: str, script: ChatScript, tmp_path: Path
) -> None:
    config = _config(endpoint_url, tmp_path)
    first = await evaluate(config)
    sent = len(script.requests)
    again = await evaluate(config)
    assert len(script.requests) == sent > 0
    assert again.results == first.results


async def test_failed_requests_are_retried_and_a_lasting_failure_is_an_error(
    endpoint_url: str, script: ChatScript, tmp_path: Path
) -> None:
    cache = AnswerCache(tmp_path / "answers.sqlite")
    config = EndpointConfig(name="r", base_url=endpoint_url, model="m")
    script.fail_first = 2
    assert await EndpointClient(config, cache, progress=False).ask(["Plan a trip"]) == [
        "Happy to help: a good answer."
    ]
    script.fail_first = 10
    no_retry = config.model_copy(update={"retries": 1})
    with pytest.raises(EndpointError, match="HTTP 503"):
        await EndpointClient(no_retry, cache, progress=False).ask(["Another prompt"])
    cache.close()
