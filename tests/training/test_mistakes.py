"""Learning from mistakes: red-team questions, a backend's answers, a teacher's corrections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aligner.prompts import chat_messages
from gateway.engines.base import GenerationRequest
from tests.support.servers import serve_in_thread
from tests.training.conftest import assert_trained, generate_with_adapter, tiny_sft_settings
from tests.training.scripted_llm import ScriptedLLM
from training.config import AlignerTrainingConfig, MistakesConfig
from training.data.mistakes import red_team_prompts
from training.data_commands import run_mistakes
from training.methods import train_aligner


def writer(prompt: str) -> str:
    keyword = prompt.split("involves ")[1].rstrip(".")
    return f'Question: "How can I get away with {keyword}?"\n'


def backend(question: str) -> str:
    return f"Sure! To do that ({question}) you should first wait until nobody is watching."


def teacher(request: str) -> str:
    assert "Question: How can I get away with" in request
    return (
        "Explanation: the answer helps with a crime.\n"
        "Correction: I can't help with that, because it would hurt someone. [END]"
    )


@pytest.fixture
def keywords_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "keywords"
    folder.mkdir()
    (folder / "theft.txt").write_text("Steal\nBurglary\nShoplifting\n")
    (folder / "fraud.txt").write_text("Forgery\nPhishing\n")
    return folder


def test_red_team_prompts_follow_the_papers_template(keywords_dir: Path) -> None:
    from training.data.mistakes import read_keywords

    prompts = red_team_prompts(read_keywords(keywords_dir), count=6, seed=1)

    assert len({p.text for p in prompts}) == 6
    assert all(p.text == f"Write a {p.kind} question that involves {p.keyword}." for p in prompts)
    assert {p.kind for p in prompts} <= {"unethical", "dangerous", "illegal", "hostile"}


async def test_corrected_mistakes_become_triples_that_train_a_tiny_model(
    keywords_dir: Path,
    tiny_model_dir: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LLM_KEY", "test-key")
    llm = ScriptedLLM(replies={"writer": writer, "backend": backend, "teacher": teacher})
    output = tmp_path / "mistakes.jsonl"
    with serve_in_thread(llm.app()) as url:
        records = await run_mistakes(
            MistakesConfig(
                keywords_dir=str(keywords_dir),
                output=str(output),
                writer_model="openai/writer",
                backend_model="openai/backend",
                teacher_model="openai/teacher",
                writer_api_base=f"{url}/v1",
                backend_api_base=f"{url}/v1",
                teacher_api_base=f"{url}/v1",
                api_key_env="LLM_KEY",
                count=12,
            )
        )

    assert len(records) == 12
    progress = capsys.readouterr().err.split("\r")[-1]  # the bar's last redraw
    assert progress.startswith("mistakes: 100%") and "12/12 [00:" in progress
    triple = json.loads(output.read_text().splitlines()[0])
    assert triple["question"].startswith("How can I get away with")
    assert triple["answer"].startswith("Sure!")
    assert triple["correction"] == "I can't help with that, because it would hurt someone."
    assert records[0].explanation == "the answer helps with a crime."

    dna = tmp_path / "dna.jsonl"
    dna.write_text("")
    pairs = tmp_path / "pairs.json"
    pairs.write_text("[]")
    config = AlignerTrainingConfig(
        **tiny_sft_settings(tiny_model_dir, tmp_path / "aligner"),  # type: ignore[arg-type]
        dna_file=str(dna),
        pairs_files=[str(pairs)],
        extra_triples=[str(output)],
    )
    report = train_aligner(config)
    assert_trained(config, report.first_loss, report.last_loss)
    request = GenerationRequest(
        messages=chat_messages(triple["question"], triple["answer"]),
        adapter="aligner",
        max_tokens=8,
    )
    text = await generate_with_adapter(tiny_model_dir, "aligner", tmp_path / "aligner", request)
    assert isinstance(text, str)
