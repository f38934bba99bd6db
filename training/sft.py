"""LoRA supervised fine-tuning with peft and the transformers Trainer.

The loss covers the assistant reply only; the final adapter directory
(adapter_config.json + adapter_model.safetensors) loads into the engine as is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from training.config import SFTConfig
from training.data.rows import SFTExample
from training.tokenization import collate, length_grouped_batches, tokenize_example


class TrainingReport(BaseModel):
    """What a run did: sizes, losses and time, also written to ``training_report.json``."""

    examples: int
    dropped: int
    steps: int
    losses: list[float]
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


def add_lora(model: Any, config: SFTConfig) -> Any:
    """Wrap the model with fresh LoRA matrices, or with ``init_adapter`` to train further."""
    from peft import LoraConfig, PeftModel, get_peft_model

    from gateway.engines.loading import ignore_peft_deprecations

    if config.init_adapter:
        with ignore_peft_deprecations():
            return PeftModel.from_pretrained(model, config.init_adapter, is_trainable=True)

    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    with ignore_peft_deprecations():
        return get_peft_model(model, lora)


def train_sft(config: SFTConfig, examples: Sequence[SFTExample]) -> TrainingReport:
    """Fine-tune LoRA adapters on ``examples`` and save the final adapter to ``output_dir``."""
    import torch

    torch.manual_seed(config.seed)
    model, tokenizer = load_base(config)
    tokenized = [tokenize_example(tokenizer, e, config.max_seq_length) for e in examples]
    kept = [t for t in tokenized if t is not None]
    if not kept:
        raise ValueError("no example fits max_seq_length")
    batches = length_grouped_batches(kept, config.batch_size, config.seed)
    model = add_lora(model, config)
    if config.gradient_checkpointing:
        model.enable_input_require_grads()
    started = time.monotonic()
    trainer = _trainer(config, model, batches, tokenizer.pad_token_id)
    trainer.train()
    seconds = time.monotonic() - started
    save_adapter(model, Path(config.output_dir), config)
    losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    report = TrainingReport(
        examples=len(kept),
        dropped=len(tokenized) - len(kept),
        steps=trainer.state.global_step,
        losses=losses,
        seconds=round(seconds, 1),
    )
    (Path(config.output_dir) / "training_report.json").write_text(report.model_dump_json(indent=1))
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


def _trainer(config: SFTConfig, model: Any, batches: list[Any], pad_token_id: int) -> Any:
    import torch
    from transformers import Trainer, TrainingArguments

    arguments = TrainingArguments(
        output_dir=str(Path(config.output_dir) / "checkpoints"),
        per_device_train_batch_size=1,  # each dataset item is a whole length-grouped batch
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
        activation_checkpointing=config.gradient_checkpointing,
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    callbacks: list[Any] = [_TimeLimit(config.max_minutes)] if config.max_minutes else []
    return Trainer(
        model=model,
        args=arguments,
        train_dataset=batches,
        data_collator=partial(collate, pad_token_id=pad_token_id),
        callbacks=callbacks,
    )


class _TimeLimit:
    """Stops training once ``minutes`` of wall time have passed (the final adapter is saved)."""

    def __init__(self, minutes: float) -> None:
        self.deadline = time.monotonic() + minutes * 60

    def __getattr__(self, name: str) -> Any:
        # The Trainer calls every on_* event; only step ends matter here.
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        """Ask the trainer to stop once the deadline has passed."""
        if time.monotonic() > self.deadline:
            control.should_training_stop = True
        return control
