"""The BPO builder: pairs files -> a held-back dev split and chat examples that train."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpo.prompts import chat_messages
from gateway.engines.base import GenerationRequest
from tests.training.conftest import assert_trained, generate_with_adapter, tiny_sft_settings
from training.config import BPOTrainingConfig
from training.data.bpo import read_records, split_records
from training.methods import bpo_examples, train_bpo


@pytest.fixture
def pairs_files(tmp_path: Path) -> list[str]:
    """One file in each of the two shapes the BPO authors released."""
    short = [
        {"prompt": f"Tell me about topic {i}", "optimized_prompt": f"Explain topic {i} in detail."}
        for i in range(12)
    ]
    long = [
        {
            "instruction": f"Summarize text {i}",
            "context": f"Text {i} is about rivers.",
            "optimized_prompt": f"Summarize text {i} in two sentences.",
        }
        for i in range(8)
    ]
    paths = [tmp_path / "pairs_a.json", tmp_path / "pairs_b.json"]
    for path, rows in zip(paths, (short, long), strict=True):
        path.write_text(json.dumps(rows))
    return [str(p) for p in paths]


def test_the_dev_split_is_fixed_by_its_seed_and_never_reaches_training(
    pairs_files: list[str], tmp_path: Path
) -> None:
    records = read_records(Path(p) for p in pairs_files)
    first = split_records(records, 0.2, seed=0)
    again = split_records(records, 0.2, seed=0)
    config = BPOTrainingConfig(model="unused", output_dir=str(tmp_path), pairs_files=pairs_files)
    config.dev_fraction = 0.2

    trained_prompts = {e.messages[0].content for e in bpo_examples(config)}

    assert first.dev == again.dev and len(first.dev) == 4
    assert all(chat_messages(r.user_prompt())[0].content not in trained_prompts for r in first.dev)
    assert "Summarize text 0\nText 0 is about rivers." in {r.user_prompt() for r in records}


async def test_a_tiny_model_learns_bpo_pairs_and_the_engine_serves_its_adapter(
    pairs_files: list[str], tiny_model_dir: str, tmp_path: Path
) -> None:
    config = BPOTrainingConfig(
        **tiny_sft_settings(tiny_model_dir, tmp_path / "bpo"),  # type: ignore[arg-type]
        pairs_files=pairs_files,
    )

    report = train_bpo(config)

    assert_trained(config, report.first_loss, report.last_loss)
    assert (tmp_path / "bpo" / "adapter_config.json").is_file()
    request = GenerationRequest(
        messages=chat_messages("Tell me about rivers"), adapter="bpo", max_tokens=8
    )
    text = await generate_with_adapter(tiny_model_dir, "bpo", tmp_path / "bpo", request)
    assert isinstance(text, str)
