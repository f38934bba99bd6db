"""The risk gate decides per request whether a stage runs; failures follow the policy."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from gateway.gate.batcher import EmbeddingBatcher
from gateway.gate.heads import LogisticHead
from gateway.gate.risk_gate import RiskGate
from gateway.gate.trunk import answer_text, prompt_text
from tests.gateway.tenants.test_tenant_policies import _small_model, config
from tests.support.gateway import ADMIN_KEY, create_tenant
from tests.support.metrics import sample
from tests.support.scripted_engine import ScriptedEngine

RISKY_WORDS = ("bomb", "poison")


class KeywordEmbedder:
    """A scripted embedder: dimension 0 lights up on risky words, dimension 1 is a bias.

    Of a (question, answer) text it reads the answer only, so the answer head scores
    what was answered, and the prompt head decides whether the question was risky.
    """

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def load(self) -> None:
        """Nothing to load."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Risky texts map to (1, 1), others to (0, 1)."""
        if self.fail:
            raise RuntimeError("embedder down")
        self.calls.append(list(texts))
        read = [t.rsplit("\nAssistant: ", 1)[-1].lower() for t in texts]
        rows = [[float(any(w in t for w in RISKY_WORDS)), 1.0] for t in read]
        return np.array(rows, dtype=np.float32)


def keyword_gate(embedder: KeywordEmbedder) -> RiskGate:
    """Heads that score ~0.98 for risky texts and ~0.02 for the rest, threshold 0.5."""
    prompt = LogisticHead(weights=np.array([8.0, 0.0]), bias=-4.0, threshold=0.5)
    answer = LogisticHead(weights=np.array([8.0, 0.0]), bias=-4.0, threshold=0.5)
    return RiskGate(EmbeddingBatcher(embedder, wait_ms=5), prompt, answer)


GATED = {"aligner": {"gate": "gated"}}


def _ask(url: str, key: str, text: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": [{"role": "user", "content": text}]},
    )


def _gateway(upstream_url: str, gate: RiskGate, engine: ScriptedEngine) -> Any:
    from gateway.config import GatewayConfig
    from gateway.services import Services
    from gateway.settings import GatewaySettings
    from tests.support.servers import serve_in_thread

    services = Services(
        GatewaySettings(admin_key=ADMIN_KEY),
        GatewayConfig.model_validate(config(upstream_url)),
        {"small": engine},
        gate=gate,
    )
    from gateway.app import create_app

    return serve_in_thread(create_app(services))


def test_gated_mode_runs_the_stage_only_for_risky_answers(upstream_url: str, upstream: Any) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder()), engine) as url:
        key = create_tenant(url, "acme", policy={"pipeline": ["aligner"], "stages": GATED})
        upstream.reply = "Mix the poison into the drink."
        risky = _ask(url, key, "how do I poison someone")
        upstream.reply = "Tides come from the moon's pull."
        benign = _ask(url, key, "explain tides")
        metrics = httpx.get(f"{url}/metrics").text
    assert risky.headers["x-aligngate-stages"] == "aligner=corrected"
    assert benign.headers["x-aligngate-stages"] == "aligner=skipped-by-gate"
    assert benign.json()["choices"][0]["message"]["content"] == "Tides come from the moon's pull."
    assert len(engine.requests) == 1
    assert sample(metrics, "aligngate_gate_score_count", stage="aligner", tenant="acme") == 2


def test_the_prompt_gate_decides_for_bpo_and_a_tenant_threshold_overrides(
    upstream_url: str,
) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder()), engine) as url:
        key = create_tenant(
            url, "acme", policy={"pipeline": ["bpo"], "stages": {"bpo": {"gate": "gated"}}}
        )
        strict = create_tenant(
            url,
            "bank",
            policy={
                "pipeline": ["bpo"],
                "stages": {"bpo": {"gate": "gated", "gate_threshold": 0.01}},
            },
        )
        skipped = _ask(url, key, "explain tides").headers["x-aligngate-stages"]
        ran = _ask(url, key, "how to build a bomb").headers["x-aligngate-stages"]
        low_threshold = _ask(url, strict, "explain tides").headers["x-aligngate-stages"]
    assert skipped == "bpo=skipped-by-gate"
    assert ran == "bpo=rewritten"
    assert low_threshold == "bpo=rewritten"


def test_never_and_always_modes_ignore_the_score(upstream_url: str) -> None:
    """Neither asks the gate whether the stage runs; a rewrite is still checked after."""
    embedder = KeywordEmbedder()
    engine = ScriptedEngine([_small_model], repeat=True)
    with _gateway(upstream_url, keyword_gate(embedder), engine) as url:
        never = create_tenant(
            url, "acme", policy={"pipeline": ["bpo"], "stages": {"bpo": {"gate": "never"}}}
        )
        always = create_tenant(url, "bank", policy={"pipeline": ["bpo"]})
        assert _ask(url, never, "bomb").headers["x-aligngate-stages"] == "bpo=skipped-by-gate"
        assert embedder.calls == []
        assert _ask(url, always, "tides").headers["x-aligngate-stages"] == "bpo=rewritten"
    # the rewrite guard's check of the client's prompt and of the rewrite
    assert embedder.calls == [["User: tides", "User: tides Answer precisely."]]


@pytest.mark.parametrize("policy", ["open", "closed"])
def test_a_failing_gate_follows_the_failure_policy(upstream_url: str, policy: str) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder(fail=True)), engine) as url:
        key = create_tenant(
            url, "acme", policy={"pipeline": ["aligner"], "stages": GATED, "on_failure": policy}
        )
        response = _ask(url, key, "explain tides")
    if policy == "open":
        # The stage ran as if always on; what it left could not be checked either.
        assert response.headers["x-aligngate-stages"] == "aligner=unverified"
    else:
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "gate_failed"


async def test_concurrent_requests_share_embedding_batches() -> None:
    embedder = KeywordEmbedder()
    gate = keyword_gate(embedder)
    prompts = [f"question {i}" for i in range(8)]
    await asyncio.gather(*(gate.prompt_risk(p) for p in prompts))
    await asyncio.gather(*(gate.answer_risk(p, f"answer {i}") for i, p in enumerate(prompts)))
    await gate.prompt_risk(prompts[0])  # cached: no new batch
    embedded = [text for call in embedder.calls for text in call]
    assert len(embedder.calls) <= 3
    assert sorted(embedded) == sorted(
        [prompt_text(p) for p in prompts]
        + [answer_text(p, f"answer {i}") for i, p in enumerate(prompts)]
    )


async def test_decide_scores_each_phase_against_its_cut_off_or_the_one_given() -> None:
    gate = keyword_gate(KeywordEmbedder())
    prompt = await gate.decide("prompt", "how to make a bomb")
    assert (prompt.phase, prompt.threshold) == ("prompt", gate.prompt_threshold)
    assert prompt.score == await gate.prompt_risk("how to make a bomb") and prompt.risky
    answer = await gate.decide("answer", "how to make a bomb", "mix the poison")
    assert (answer.threshold, answer.risky) == (gate.answer_threshold, True)
    assert answer.score == await gate.answer_risk("how to make a bomb", "mix the poison")
    safe = await gate.decide("answer", "how to make a bomb", "I can't help with that")
    assert not safe.risky
    lowered = await gate.decide("prompt", "explain tides", threshold=0.0)
    assert lowered.threshold == 0.0 and lowered.risky
    assert lowered.detail() == {"gate_score": round(lowered.score, 4), "gate_threshold": 0.0}


async def test_an_answer_decision_without_the_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="needs the answer"):
        await keyword_gate(KeywordEmbedder()).decide("answer", "explain tides")
