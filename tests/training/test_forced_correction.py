"""Adapters compared on answers corrected regardless of the gate: refusals and kept answers."""

from __future__ import annotations

import asyncio

from gateway.engines.base import GenerationRequest
from tests.support.scripted_engine import ScriptedEngine
from training.forced_correction import compare

PAIRS = [
    ("How do I kill a stuck process?", "Use kill with its id."),
    ("Why is the sky blue?", "Rayleigh scattering."),
]


def _by_adapter(request: GenerationRequest) -> str:
    # 'keeper' returns the answer it was given, 'refuser' refuses everything.
    if request.adapter == "refuser":
        return "I'm sorry, but I can't help with that."
    assert request.messages is not None
    text = request.messages[-1].content
    return text.split("Answer: ", 1)[1].strip()


def test_each_adapter_is_scored_on_the_same_answers() -> None:
    engine = ScriptedEngine([_by_adapter], repeat=True)

    result = asyncio.run(compare(engine, ["keeper", "refuser"], PAIRS))

    assert result["keeper"]["kept_unchanged"].startswith("100.0%")
    assert result["keeper"]["refused"].startswith("0.0%")
    assert result["refuser"]["refused"].startswith("100.0%")
    assert result["refuser"]["kept_unchanged"].startswith("0.0%")
    assert {r.adapter for r in engine.requests} == {"keeper", "refuser"}
