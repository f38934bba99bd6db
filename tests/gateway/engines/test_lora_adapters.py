"""Several LoRA adapters on one base model, mixed inside one batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.engines.base import GenerationRequest
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.loading import ignore_peft_deprecations, load_model
from gateway.engines.transformers_engine import TransformersEngine

pytestmark = pytest.mark.model

PROMPT = "The best way to learn a language is"


@pytest.fixture(scope="module")
def adapter_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two random (non-identity) LoRA adapters for the embedded model, saved with peft."""
    base = load_model("embedded:smollm2").model  # first: it configures torch's threads
    import torch
    from peft import LoraConfig, get_peft_model

    root = tmp_path_factory.mktemp("adapters")
    torch.manual_seed(0)
    # init_lora_weights=False gives random B matrices, so each adapter changes outputs.
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    with ignore_peft_deprecations():
        model = get_peft_model(base, config, adapter_name="alpha")
    model.add_adapter("beta", config)
    model.save_pretrained(str(root))
    return {name: str(Path(root) / name) for name in ("alpha", "beta")}


@pytest.fixture
async def lora_engine(adapter_dirs: dict[str, str]) -> AsyncIterator[TransformersEngine]:
    engine = TransformersEngine(TransformersEngineConfig(adapters=adapter_dirs))
    await engine.start()
    yield engine
    await engine.aclose()


def request(adapter: str | None) -> GenerationRequest:
    return GenerationRequest(prompt=PROMPT, adapter=adapter, max_tokens=8)


async def test_a_mixed_adapter_batch_gives_each_row_what_it_gets_alone(
    lora_engine: TransformersEngine,
) -> None:
    adapters = ["alpha", None, "beta"]
    alone = [(await lora_engine.generate([request(a)]))[0].text for a in adapters]
    before = lora_engine.stats.batches

    together = await asyncio.gather(*(lora_engine.generate([request(a)]) for a in adapters))

    assert lora_engine.stats.batches - before == 1
    assert [result.text for (result,) in together] == alone
    assert len(set(alone)) == 3, "each adapter should change the base model's output"
    assert lora_engine.adapter_names == ("alpha", "beta")
