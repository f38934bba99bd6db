"""The in-process transformers engine on the embedded SmolLM2 model."""

from __future__ import annotations

import asyncio

import pytest

from gateway.engines.base import ChatTurn, Engine, EngineError, GenerationRequest
from gateway.engines.transformers_engine import TransformersEngine
from tests.support.engines import drain

pytestmark = pytest.mark.model

PROMPTS = [
    "The capital of France is",
    "Once upon a time, there was a",
    "def fibonacci(n):",
    "The three primary colors are",
    "My favourite breakfast is",
    "To bake bread you need",
    "The largest planet in the solar system",
    "In 1969, astronauts",
]


def greedy(prompt: str, max_tokens: int = 8, stop: list[str] | None = None) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, max_tokens=max_tokens, stop=stop or [])


async def test_the_embedded_engine_is_a_ready_engine(embedded_engine: TransformersEngine) -> None:
    assert isinstance(embedded_engine, Engine)
    assert await embedded_engine.ready()


async def test_concurrent_callers_share_batches_and_each_gets_its_own_output(
    embedded_engine: TransformersEngine,
) -> None:
    stats = embedded_engine.stats
    before = stats.batches
    alone = [(await embedded_engine.generate([greedy(p)]))[0] for p in PROMPTS]
    sequential_batches = stats.batches - before

    before = stats.batches
    together = await asyncio.gather(*(embedded_engine.generate([greedy(p)]) for p in PROMPTS))
    concurrent_batches = stats.batches - before

    assert sequential_batches == 8
    assert concurrent_batches < sequential_batches
    # Left padding is masked out, so greedy decoding gives each row what it gets
    # alone; float32 rounding could only flip a near-tie late in the output.
    for solo, (batched,) in zip(alone, together, strict=True):
        assert batched.text[:10] == solo.text[:10]
        assert batched.prompt_tokens == solo.prompt_tokens
    assert sum(b.text == s.text for s, (b,) in zip(alone, together, strict=True)) >= 7


async def test_max_tokens_and_stop_strings_hold_per_row_in_a_shared_batch(
    embedded_engine: TransformersEngine,
) -> None:
    (free,) = await embedded_engine.generate([greedy(PROMPTS[1], max_tokens=12)])
    stop_word = free.text.split()[2]
    before = embedded_engine.stats.batches

    short, long, stopped = await embedded_engine.generate(
        [
            greedy(PROMPTS[0], max_tokens=2),
            greedy(PROMPTS[2], max_tokens=12),
            greedy(PROMPTS[1], max_tokens=12, stop=[stop_word]),
        ]
    )

    assert embedded_engine.stats.batches - before == 1
    assert (short.completion_tokens, short.finish_reason) == (2, "length")
    assert long.completion_tokens == 12
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.index(stop_word)]
    assert stop_word not in stopped.text


async def test_chat_messages_are_formatted_with_the_models_chat_template(
    embedded_engine: TransformersEngine,
) -> None:
    request = GenerationRequest(
        messages=[ChatTurn(role="user", content="What is the capital of France?")], max_tokens=16
    )
    (result,) = await embedded_engine.generate([request])
    assert "Paris" in result.text
    assert "<|im_start|>" not in result.text


async def test_streaming_yields_the_same_text_as_generate(
    embedded_engine: TransformersEngine,
) -> None:
    request = greedy(PROMPTS[3], max_tokens=10)
    pieces, result = await drain(embedded_engine.stream(request))
    (whole,) = await embedded_engine.generate([request])
    assert result == whole
    assert len(pieces) > 1
    assert "".join(pieces) == whole.text


async def test_requests_with_different_sampling_run_in_separate_batches(
    embedded_engine: TransformersEngine,
) -> None:
    before = embedded_engine.stats.batches
    sampled = GenerationRequest(prompt=PROMPTS[4], max_tokens=4, temperature=0.7, top_p=0.9)
    results = await embedded_engine.generate(
        [greedy(PROMPTS[4], 4), sampled, greedy(PROMPTS[5], 4)]
    )
    assert embedded_engine.stats.batches - before == 2
    assert all(r.completion_tokens >= 1 for r in results)


async def test_an_unknown_adapter_is_an_engine_error(embedded_engine: TransformersEngine) -> None:
    with pytest.raises(EngineError, match="unknown adapter"):
        await embedded_engine.generate([GenerationRequest(prompt="Hi", adapter="nope")])
