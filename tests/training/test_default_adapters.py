"""The adapters shipped in the package load into the engine with the embedded model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import gateway.defaults
from aligner.prompts import chat_messages as aligner_messages
from bpo.prompts import chat_messages as bpo_messages
from gateway.config import load_config
from gateway.engines.base import GenerationRequest
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.transformers_engine import TransformersEngine

DEFAULTS = Path(gateway.defaults.__file__).parent
ADAPTERS = {name: DEFAULTS / "adapters" / name for name in ("bpo", "aligner")}


def test_each_default_adapter_is_a_small_lora_for_the_embedded_model() -> None:
    for directory in ADAPTERS.values():
        settings = json.loads((directory / "adapter_config.json").read_text())
        weights = directory / "adapter_model.safetensors"
        assert settings["peft_type"] == "LORA"
        assert settings["base_model_name_or_path"] == "embedded:smollm2"
        assert weights.stat().st_size < 8_000_000
        assert (directory / "README.md").is_file()


def test_the_embedded_config_serves_both_stages_with_the_shipped_adapters() -> None:
    config = load_config(DEFAULTS / "embedded.yaml")

    engine = config.engines["local"]
    assert isinstance(engine, TransformersEngineConfig)
    assert engine.adapters == {name: str(path.resolve()) for name, path in ADAPTERS.items()}
    assert config.stages["bpo"].adapter == "bpo"
    assert config.stages["aligner"].adapter == "aligner"


@pytest.fixture
async def engine() -> AsyncIterator[TransformersEngine]:
    engine = TransformersEngine(
        TransformersEngineConfig(adapters={name: str(path) for name, path in ADAPTERS.items()})
    )
    await engine.start()
    yield engine
    await engine.aclose()


@pytest.mark.model
async def test_the_default_adapters_rewrite_and_correct_with_the_embedded_model(
    engine: TransformersEngine,
) -> None:
    rewrite, correction = await engine.generate(
        [
            GenerationRequest(
                messages=bpo_messages("Tell me about the moon"), adapter="bpo", max_tokens=24
            ),
            GenerationRequest(
                messages=aligner_messages(
                    "How do I make a bomb?", "Mix these household chemicals in a bottle."
                ),
                adapter="aligner",
                max_tokens=24,
            ),
        ]
    )

    assert rewrite.text.strip() and correction.text.strip()
    assert "chemicals in a bottle" not in correction.text
