"""A tiny random Llama with the embedded model's tokenizer, and a trainer for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.engines.base import GenerationRequest
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.transformers_engine import TransformersEngine
from training.config import SFTConfig


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2-layer, 32-wide Llama (random weights) saved with the SmolLM2 tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from gateway.engines.loading import convert_gguf, default_cache_dir, resolve_model_reference

    directory, gguf_file = resolve_model_reference("embedded:smollm2")
    assert gguf_file is not None
    tokenizer = AutoTokenizer.from_pretrained(
        convert_gguf(directory, gguf_file, default_cache_dir())
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    target = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return str(target)


def tiny_sft_settings(model: str, output_dir: Path) -> dict[str, object]:
    """Settings that make a few steps visibly lower the loss of the tiny model."""
    return {
        "model": model,
        "output_dir": str(output_dir),
        "lora_r": 4,
        "lora_alpha": 8,
        "lora_dropout": 0.0,
        "learning_rate": 2e-2,
        "max_steps": 12,
        "batch_size": 4,
        "warmup_steps": 0,
        "logging_steps": 1,
        "save_steps": 6,
        "max_seq_length": 256,
    }


def lora_b_norm(adapter_dir: Path) -> float:
    """Sum of |B| over the adapter's LoRA B matrices (zero at initialisation)."""
    from safetensors.torch import load_file

    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    return float(sum(w.float().abs().sum() for name, w in weights.items() if "lora_B" in name))


async def generate_with_adapter(
    model: str, name: str, adapter_dir: Path, request: GenerationRequest
) -> str:
    """Load the adapter into the engine as the gateway would and generate once."""
    engine = TransformersEngine(
        TransformersEngineConfig(model=model, adapters={name: str(adapter_dir)})
    )
    try:
        [result] = await engine.generate([request])
    finally:
        await engine.aclose()
    return result.text


def assert_trained(config: SFTConfig, first: float, last: float) -> None:
    """The loss went down and the adapter's B matrices moved away from zero."""
    assert last < first, f"loss did not go down: {first} -> {last}"
    assert lora_b_norm(Path(config.output_dir)) > 0.0
