"""LoRA supervised fine-tuning with TRL's ``SFTTrainer`` and peft.

Each example is a conversational prompt-completion row, so the trainer puts the loss
on the assistant reply (and its end-of-turn token) only; the prompt is encoded with
the chat template and generation prompt exactly as the engine encodes it. The final
adapter directory (adapter_config.json + adapter_model.safetensors) loads into the
engine as is; ``loss.png`` beside it plots the run's logged training loss.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from training.config import SFTConfig
from training.data.rows import SFTExample


class TrainingReport(BaseModel):
    """What a run did: sizes, losses and time, also written to ``training_report.json``."""

    examples: int
    dropped: int
    steps: int
    losses: list[float]
    loss_steps: list[int] = Field(default_factory=list, description="The step of each loss.")
    seconds: float

    @property
    def first_loss(self) -> float:
        """The first logged training loss."""
        return self.losses[0]

    @property
    def last_loss(self) -> float:
        """The last logged training loss."""
        return self.losses[-1]


def load_base(config: SFTConfig) -> tuple[Any, Any]:
    """The base model (float32, or bfloat16 with ``bf16``) and its tokenizer, hub-free."""
    from gateway.engines.loading import (
        convert_gguf,
        default_cache_dir,
        prefer_passive_openmp,
        resolve_model_reference,
    )

    prefer_passive_openmp()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if config.threads:
        torch.set_num_threads(config.threads)
    directory, gguf_file = resolve_model_reference(config.model)
    if gguf_file is not None:
        directory = convert_gguf(directory, gguf_file, default_cache_dir())
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.bfloat16 if config.bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype)
    return model, tokenizer


def prompt_completion_rows(examples: Sequence[SFTExample]) -> list[dict[str, Any]]:
    """TRL's conversational prompt-completion rows: the chat, then the reply to learn."""
    return [
        {
            "prompt": [turn.model_dump() for turn in example.messages],
            "completion": [{"role": "assistant", "content": example.target}],
        }
        for example in examples
    ]


def build_trainer(config: SFTConfig, examples: Sequence[SFTExample]) -> Any:
    """The ``SFTTrainer`` for ``examples``: LoRA (fresh, or ``init_adapter``), data tokenized."""
    import torch
    from datasets import Dataset
    from trl import SFTTrainer  # type: ignore[attr-defined]  # trl's lazy top-level module

    from gateway.engines.loading import ignore_peft_deprecations
    from training.callbacks import TimeLimit

    torch.manual_seed(config.seed)
    model, tokenizer = load_base(config)
    peft_config = None
    if config.init_adapter:
        from peft import PeftModel

        with ignore_peft_deprecations():
            model = PeftModel.from_pretrained(model, config.init_adapter, is_trainable=True)
    else:
        peft_config = _lora(config)
    callbacks: list[Any] = [TimeLimit(config.max_minutes)] if config.max_minutes else []
    with ignore_peft_deprecations():
        return SFTTrainer(
            model=model,
            args=_arguments(config),
            train_dataset=Dataset.from_list(prompt_completion_rows(examples)),
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=callbacks,
        )


def train_sft(config: SFTConfig, examples: Sequence[SFTExample]) -> TrainingReport:
    """Fine-tune LoRA adapters on ``examples`` and save the final adapter to ``output_dir``."""
    trainer = build_trainer(config, examples)
    kept = len(trainer.train_dataset)
    if not kept:
        raise ValueError("no example fits max_seq_length")
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    output = Path(config.output_dir)
    save_adapter(trainer.model, output, config)
    logged = [e for e in trainer.state.log_history if "loss" in e]
    report = TrainingReport(
        examples=kept,
        dropped=len(examples) - kept,
        steps=trainer.state.global_step,
        losses=[float(e["loss"]) for e in logged],
        loss_steps=[int(e["step"]) for e in logged],
        seconds=round(seconds, 1),
    )
    (output / "training_report.json").write_text(report.model_dump_json(indent=1))
    from training.loss_plot import plot_losses

    plot_losses(report.loss_steps, report.losses, output / "loss.png", title=output.name)
    return report


def save_adapter(model: Any, output_dir: Path, config: SFTConfig) -> None:
    """Save the adapter (float16 if asked) with the base model reference recorded."""
    import torch

    if config.save_fp16:
        for name, parameter in model.named_parameters():
            if "lora_" in name:
                parameter.data = parameter.data.to(torch.float16)
    model.save_pretrained(str(output_dir))
    # Record the reference the user gave (e.g. embedded:smollm2), not a cache path.
    settings_path = output_dir / "adapter_config.json"
    settings = json.loads(settings_path.read_text())
    settings["base_model_name_or_path"] = config.model
    settings_path.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")


def _lora(config: SFTConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )


def _arguments(config: SFTConfig) -> Any:
    import torch
    from trl import SFTConfig as TrainerArguments  # type: ignore[attr-defined]

    return TrainerArguments(
        output_dir=str(Path(config.output_dir) / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        # Batches of similar lengths: little padding, which is most of the cost on CPU.
        train_sampling_strategy="group_by_length",
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        warmup_steps=config.warmup_steps,
        lr_scheduler_type="linear",
        logging_steps=config.logging_steps,
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        save_only_model=True,
        seed=config.seed,
        bf16=config.bf16,
        # transformers 5's name; TRL's own default (gradient_checkpointing=True) is its old alias.
        activation_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing=None,  # type: ignore[arg-type]  # None: not set, no warning
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        dataloader_num_workers=0,
        # Prompt-completion rows: the loss is on the completion only.
        completion_only_loss=True,
        max_length=config.max_seq_length,
        dataset_num_proc=None,
        disable_tqdm=False,
    )
