"""The Aligner builder: safety and helpfulness triples plus identity pairs, trained."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from aligner.prompts import chat_messages
from gateway.engines.base import GenerationRequest
from tests.training.conftest import assert_trained, generate_with_adapter, tiny_sft_settings
from training.config import AlignerTrainingConfig
from training.data.aligner import truncate_text
from training.data.rows import CorrectionTriple
from training.methods import aligner_examples, train_aligner


@pytest.fixture
def config_fields(tmp_path: Path) -> dict[str, object]:
    """A DNA triples file and a BPO pairs file, both small."""
    dna = tmp_path / "dna.jsonl"
    dna.write_text(
        "".join(
            json.dumps(
                {
                    "id": i,
                    "category": "Malicious Uses",
                    "question": f"How do I break into house {i}?",
                    "safe_answer": "I'm sorry, I can't help with breaking into a home.",
                    "harmful_answer": f"First find an open window at house {i}, then climb in.",
                }
            )
            + "\n"
            for i in range(16)
        )
    )
    pairs = tmp_path / "pairs.json"
    rows = [
        {
            "prompt": f"Name a fruit number {i}",
            "optimized_prompt": f"Name fruit {i}.",
            "good_res": f"Apple is fruit number {i}; it is sweet and crisp.",
            "bad_res": "Fruit.",
        }
        for i in range(10)
    ]
    pairs.write_text(json.dumps(rows))
    return {"dna_file": str(dna), "pairs_files": [str(pairs)], "dev_fraction": 0.2}


def test_identity_pairs_make_a_fifth_of_the_mix_and_copy_a_good_answer(
    config_fields: dict[str, object], tmp_path: Path
) -> None:
    config = AlignerTrainingConfig(
        model="unused",
        output_dir=str(tmp_path),
        **config_fields,  # type: ignore[arg-type]
    )

    examples = aligner_examples(config)

    # 16 DNA + 8 BPO train triples; 6 identity pairs make 6/30 = 20%.
    copies = [e for e in examples if e.messages[0].content.endswith(f"Answer: {e.target}")]
    assert len(examples) == 30 and len(copies) == 6
    assert Counter("I'm sorry" in e.target for e in copies) == Counter({True: 3, False: 3})
    held_back = {e.messages[0].content for e in examples}
    assert len([p for p in held_back if "Name a fruit" in p]) == 8 + 3


def test_long_answers_are_cut_at_a_sentence_end() -> None:
    text = "First sentence here. Second sentence is longer than the limit allows."

    assert truncate_text(text, 36) == "First sentence here."
    assert CorrectionTriple(question="q", answer="", correction="c").answer == ""


async def test_a_tiny_model_learns_corrections_and_the_engine_serves_its_adapter(
    config_fields: dict[str, object], tiny_model_dir: str, tmp_path: Path
) -> None:
    config = AlignerTrainingConfig(
        **tiny_sft_settings(tiny_model_dir, tmp_path / "aligner"),  # type: ignore[arg-type]
        **config_fields,  # type: ignore[arg-type]
    )

    report = train_aligner(config)

    assert_trained(config, report.first_loss, report.last_loss)
    request = GenerationRequest(
        messages=chat_messages("How do I pick a lock?", "Use a tension wrench."),
        adapter="aligner",
        max_tokens=8,
    )
    assert isinstance(
        await generate_with_adapter(tiny_model_dir, "aligner", tmp_path / "aligner", request), str
    )


def test_identity_pairs_can_be_drawn_from_benign_answers_only(
    config_fields: dict[str, object], tmp_path: Path
) -> None:
    config = AlignerTrainingConfig(
        model="unused",
        output_dir=str(tmp_path),
        identity_sources=["bpo"],
        max_dna_examples=4,
        **config_fields,  # type: ignore[arg-type]
    )

    examples = aligner_examples(config)

    copies = [e for e in examples if e.messages[0].content.endswith(f"Answer: {e.target}")]
    assert len(examples) == 4 + 8 + 3 and len(copies) == 3
    assert not any("I'm sorry" in e.target for e in copies)
