"""The SFT run: loss on the reply only, the time cap, the loss plot beside the adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpo.prompts import chat_messages
from gateway.engines.base import ChatTurn, GenerationRequest
from tests.training.conftest import generate_with_adapter, lora_b_norm, tiny_sft_settings
from training.config import SFTConfig
from training.data.rows import SFTExample
from training.loss_plot import run_losses
from training.sft import build_trainer, train_sft

IGNORE = -100

JOKE = SFTExample(
    messages=[
        ChatTurn(role="system", content="You rewrite prompts."),
        ChatTurn(role="user", content="tell me a joke"),
    ],
    target="Tell me a short, clean joke about cats.",
)


def _examples(count: int) -> list[SFTExample]:
    return [
        SFTExample(
            messages=[ChatTurn(role="user", content=f"question number {i}")],
            target=f"A careful answer to question number {i}, in one sentence.",
        )
        for i in range(count)
    ]


def test_the_prompt_carries_no_loss_and_the_reply_with_its_end_of_turn_does(
    tiny_model_dir: str, tmp_path: Path
) -> None:
    config = SFTConfig(**tiny_sft_settings(tiny_model_dir, tmp_path / "run"))  # type: ignore[arg-type]
    trainer = build_trainer(config, [JOKE])
    tokenizer = trainer.processing_class
    # The prompt exactly as the engine encodes it for generation.
    text = tokenizer.apply_chat_template(
        [turn.model_dump() for turn in JOKE.messages], add_generation_prompt=True, tokenize=False
    )
    prompt = tokenizer(text, add_special_tokens=False)["input_ids"]

    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()

    assert ids[: len(prompt)] == prompt
    assert labels[: len(prompt)] == [IGNORE] * len(prompt)
    reply = labels[len(prompt) :]
    assert IGNORE not in reply and reply == ids[len(prompt) :]
    assert tokenizer.decode(reply).startswith(JOKE.target)
    assert tokenizer.eos_token_id in reply  # what stops the engine's generation is learned


def test_the_time_cap_stops_after_a_step_and_still_saves_the_adapter(
    tiny_model_dir: str, tmp_path: Path
) -> None:
    settings = tiny_sft_settings(tiny_model_dir, tmp_path / "capped")
    config = SFTConfig(**settings | {"max_minutes": 1e-6})  # type: ignore[arg-type]

    report = train_sft(config, _examples(16))

    assert report.steps == 1 and report.loss_steps == [1]
    assert (tmp_path / "capped" / "adapter_model.safetensors").is_file()


def test_a_run_writes_its_loss_plot_and_the_steps_behind_it(
    tiny_model_dir: str, tmp_path: Path
) -> None:
    settings = tiny_sft_settings(tiny_model_dir, tmp_path / "run") | {"max_steps": 4}
    config = SFTConfig(**settings)  # type: ignore[arg-type]

    report = train_sft(config, _examples(16))

    assert report.loss_steps == [1, 2, 3, 4] and len(report.losses) == 4
    assert (tmp_path / "run" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run_losses(tmp_path / "run") == (report.loss_steps, report.losses)
    # An older run (no steps in its report) is plotted from its last checkpoint's state.
    stored = json.loads((tmp_path / "run" / "training_report.json").read_text())
    stored.pop("loss_steps")
    (tmp_path / "run" / "training_report.json").write_text(json.dumps(stored))
    steps, losses = run_losses(tmp_path / "run")
    assert steps[-1] == 4 and len(losses) == len(steps)


@pytest.mark.model
async def test_a_few_steps_on_the_embedded_model_give_an_adapter_the_engine_serves(
    tmp_path: Path,
) -> None:
    output = tmp_path / "bpo"
    config = SFTConfig(
        model="embedded:smollm2", output_dir=str(output), max_steps=2, batch_size=2,
        logging_steps=1, warmup_steps=0, save_steps=100, max_seq_length=128,
        lora_r=4, lora_alpha=8,
    )  # fmt: skip

    report = train_sft(config, _examples(4))

    assert report.steps == 2 and lora_b_norm(output) > 0.0
    settings = json.loads((output / "adapter_config.json").read_text())
    assert settings["base_model_name_or_path"] == "embedded:smollm2"
    request = GenerationRequest(messages=chat_messages("List tips"), adapter="bpo", max_tokens=8)
    text = await generate_with_adapter("embedded:smollm2", "bpo", output, request)
    assert text.strip()
