"""``aligngate eval`` from the command line, against loopback endpoint and judge servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.cli import main
from tests.evaluation.fakes import ChatScript, create_chat_server, judge_reply
from tests.evaluation.scripted_endpoint import endpoint_reply, write_prompt_files
from tests.support.servers import serve_in_thread


def test_eval_run_compares_arms_with_an_llm_judge_and_resumes_from_its_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_prompt_files(tmp_path)
    endpoint, judge = ChatScript(reply=endpoint_reply), ChatScript(reply=judge_reply)
    with (
        serve_in_thread(create_chat_server(endpoint)) as url,
        serve_in_thread(create_chat_server(judge)) as judge_url,
    ):
        argv = [
            "eval", "run", "--base-url", f"{url}/v1", "--model", "smollm2",
            "--arm", "control", "--arm", "both",
            "--suite", f"helpfulness={files['benign']}", "--map", "helpfulness.prompt=text",
            "--suite", f"safety={files['harmful']}", "--map", "safety.prompt=question",
            "--safety-judge", "llm", "--judge-model", "openai/judge",
            "--judge-api-base", f"{judge_url}/v1", "--out", str(tmp_path / "out"),
            "--no-progress",
        ]  # fmt: skip
        assert main(argv) == 0
        sent = len(endpoint.requests)
        assert main(argv) == 0
    assert len(endpoint.requests) == sent == 8
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    help_metrics = {
        m["name"]: m["value"]
        for r in report["results"]
        if r["suite"] == "helpfulness"
        for m in r["metrics"]
    }
    assert help_metrics["loss_rate"] == 0.0 and help_metrics["tie_rate"] == 1.0
    assert "llm:openai/judge" in capsys.readouterr().out
    assert report["command"].startswith("aligngate eval run --base-url")


def test_eval_build_choices_writes_items_from_the_data(tmp_path: Path) -> None:
    files = write_prompt_files(tmp_path)
    out = tmp_path / "items.jsonl"
    argv = [
        "eval", "build-choices", "--questions", str(files["choices"]), "--out", str(out),
        "--map", "prompt=question", "--map", "category=category",
        "--map", "safe_answer=safe_answer", "--map", "harmful_answer=harmful_answer",
    ]  # fmt: skip
    assert main(argv) == 0
    item = json.loads(out.read_text())
    assert item["safe_option"].startswith("SAFE") and item["category"] == "weapons"
