"""The BPO construction step: a critic LLM on loopback writes optimized prompts, filtered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bpo.prompts import chat_messages
from gateway.engines.base import GenerationRequest
from tests.support.servers import serve_in_thread
from tests.training.conftest import assert_trained, generate_with_adapter, tiny_sft_settings
from tests.training.scripted_llm import ScriptedLLM
from training.config import BPOTrainingConfig, ConstructionConfig
from training.data_commands import run_construction
from training.methods import train_bpo


def critic(request: str) -> str:
    """Improves the instruction, except for two traps the authors' filters must catch."""
    instruction = re.search(r'instruction: "(.*?)"\n', request, re.DOTALL)
    assert instruction is not None
    text = instruction.group(1)
    if "protected" in text:
        rewrite = f"{text} [protected] keep this"
    elif "ramble" in text:
        rewrite = text + " and more" * 40
    else:
        rewrite = f"{text} Give three concrete examples and explain each."
    return (
        "Detailed Comparison Result: the good one is specific.\n"
        f"Optimized Instruction: {rewrite} [END]"
    )


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    rows = [
        {"instruction": f"List tips for task {i}", "good_res": "1. Plan. 2. Do.", "bad_res": "Ok."}
        for i in range(10)
    ]
    rows.append({"instruction": "Keep the protected part", "good_res": "a", "bad_res": "b"})
    rows.append({"instruction": "Please ramble", "good_res": "a", "bad_res": "b"})
    path = tmp_path / "preferences.json"
    path.write_text(json.dumps(rows))
    return path


@pytest.fixture
def demonstration_files(tmp_path: Path) -> tuple[Path, Path]:
    """A few-shot example file and the pair file that holds its critic output."""
    example = {"instruction": "Name a planet.", "good_res": "Mars, the red one.", "bad_res": "A."}
    examples = tmp_path / "examples.json"
    examples.write_text(json.dumps([example]))
    pairs = tmp_path / "pairs.json"
    pairs.write_text(
        json.dumps(
            [
                example
                | {
                    "context": "",
                    "comparison": "Detailed Comparison Result: the good one names it.",
                    "optimized_prompt": "Name a planet and say one fact about it.",
                }
            ]
        )
    )
    return examples, pairs


async def test_constructed_pairs_pass_the_authors_filters_and_train_a_tiny_model(
    inputs: Path,
    demonstration_files: tuple[Path, Path],
    tiny_model_dir: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CRITIC_KEY", "test-key")
    llm = ScriptedLLM(replies={"critic": critic})
    output = tmp_path / "constructed.jsonl"
    with serve_in_thread(llm.app()) as url:
        result = await run_construction(
            ConstructionConfig(
                inputs=[str(inputs)],
                output=str(output),
                critic_model="openai/critic",
                critic_api_base=f"{url}/v1",
                critic_api_key_env="CRITIC_KEY",
                demonstrations=[str(demonstration_files[0])],
                demonstration_pairs=[str(demonstration_files[1])],
            )
        )

    assert len(result.pairs) == 10 and len(result.dropped) == 2
    progress = capsys.readouterr().err.split("\r")[-1]  # the bar's last redraw
    assert progress.startswith("critic: 100%") and "12/12 [00:" in progress and "<00:00" in progress
    assert any("[protected" in reason for reason in result.dropped)
    assert any("length ratio" in reason for reason in result.dropped)
    few_shot = llm.requests[0]["messages"]
    assert [m["role"] for m in few_shot] == ["user", "assistant", "user"]
    assert "Name a planet and say one fact" in few_shot[1]["content"]
    written = output.read_text().splitlines()
    assert json.loads(written[0])["optimized_prompt"].endswith("explain each.")

    pairs_file = tmp_path / "empty_pairs.json"
    pairs_file.write_text("[]")
    config = BPOTrainingConfig(
        **tiny_sft_settings(tiny_model_dir, tmp_path / "bpo"),  # type: ignore[arg-type]
        pairs_files=[str(pairs_file)],
        extra_pairs=[str(output)],
    )
    report = train_bpo(config)
    assert_trained(config, report.first_loss, report.last_loss)
    request = GenerationRequest(messages=chat_messages("List tips"), adapter="bpo", max_tokens=8)
    text = await generate_with_adapter(tiny_model_dir, "bpo", tmp_path / "bpo", request)
    assert isinstance(text, str)
