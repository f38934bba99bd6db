"""What the risk gate costs and what it saves, on CPU with the shipped heads.

Group ``gate``: one request's gate decision (prompt and answer scored, embeddings
batched), on each trunk side by side (``gate.trunk``: transformers fp32 through torch,
llamacpp on the model's Q4_1 weights). Group ``gated-e2e``: a benign request to the
embedded default with the Aligner always on against the Aligner gated, in one run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from gateway.config import GateConfig, GateTrunk
from gateway.engines.transformers_engine import TransformersEngine
from gateway.gate.risk_gate import RiskGate
from tests.support.engines import Shared
from tests.support.gateway import ADMIN_KEY, create_tenant

BENIGN = "Give me three tips for keeping houseplants alive."
# Rounds cycle through these, so neither arm is judged on one lucky prompt.
BENIGN_PROMPTS = (
    BENIGN,
    "What is the capital of Australia?",
    "Write a haiku about autumn leaves.",
    "How do I convert Celsius to Fahrenheit?",
    "Suggest a name for a bakery.",
)


def _loaded(trunk: GateTrunk) -> RiskGate:
    loaded = RiskGate.from_config(GateConfig(enabled=True, trunk=trunk))
    asyncio.run(loaded.batcher.start())  # load the embedder outside the timing
    return loaded


@pytest.fixture(scope="module")
def gate() -> RiskGate:
    """The shipped heads on the embedded default's trunk, loaded."""
    return _loaded("transformers")


@pytest.fixture(scope="module", params=["transformers", "llamacpp"])
def trunk_gate(request: pytest.FixtureRequest) -> RiskGate:
    """Each trunk with its own shipped heads, loaded."""
    return _loaded(request.param)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for all timed calls, as in a running gateway."""
    running = asyncio.new_event_loop()
    yield running
    running.close()


def _fresh_texts() -> Iterator[tuple[str, str]]:
    # New texts every call: the per-text cache must not make the gate look free.
    for n in range(10**6):
        yield f"{BENIGN} ({n})", f"Water them weekly and give them light. ({n})"


@pytest.mark.benchmark(group="gate")
def test_prompt_gate_per_request(
    benchmark: BenchmarkFixture, trunk_gate: RiskGate, loop: asyncio.AbstractEventLoop
) -> None:
    gate = trunk_gate
    texts = _fresh_texts()
    benchmark.pedantic(
        lambda: loop.run_until_complete(gate.prompt_risk(next(texts)[0])),
        rounds=60,
        iterations=1,
        warmup_rounds=3,
    )


@pytest.mark.benchmark(group="gate")
def test_answer_gate_per_request_after_the_prompt_gate(
    benchmark: BenchmarkFixture, trunk_gate: RiskGate, loop: asyncio.AbstractEventLoop
) -> None:
    gate = trunk_gate
    texts = _fresh_texts()

    def setup() -> tuple[tuple[str, str], dict[str, object]]:
        prompt, answer = next(texts)
        loop.run_until_complete(gate.prompt_risk(prompt))  # as in a request: prompt already seen
        return (prompt, answer), {}

    benchmark.pedantic(
        lambda prompt, answer: loop.run_until_complete(gate.answer_risk(prompt, answer)),
        setup=setup,
        rounds=60,
        iterations=1,
        warmup_rounds=3,
    )


@pytest.fixture(scope="module")
def embedded_gateway(embedded_engine: TransformersEngine, gate: RiskGate) -> Iterator[str]:
    """The embedded default's model as backend and Aligner, with the real gate."""
    from gateway.app import create_app
    from gateway.config import GatewayConfig
    from gateway.services import Services
    from gateway.settings import GatewaySettings
    from tests.support.servers import serve_in_thread

    config: dict[str, Any] = {
        "engines": {"local": {"kind": "transformers"}},
        "models": [{"name": "smollm2", "backend": {"kind": "engine", "engine": "local"}}],
        "stages": {"aligner": {"kind": "aligner", "engine": "local", "max_tokens": 64}},
        "pipeline": ["aligner"],
    }
    services = Services(
        GatewaySettings(admin_key=ADMIN_KEY),
        GatewayConfig.model_validate(config),
        {"local": Shared(embedded_engine)},
        gate=gate,
    )
    with serve_in_thread(create_app(services)) as url:
        yield url


def _ask(url: str, key: str, seen: list[str]) -> None:
    prompt = BENIGN_PROMPTS[len(seen) % len(BENIGN_PROMPTS)]
    response = httpx.post(
        f"{url}/v1/chat/completions",
        timeout=300,
        headers={"authorization": f"Bearer {key}"},
        json={
            "model": "smollm2",
            "max_tokens": 48,
            "messages": [{"role": "user", "content": prompt}],
        },
    )
    assert response.status_code == 200, response.text
    seen.append(response.headers["x-aligngate-stages"])


@pytest.mark.benchmark(group="gated-e2e")
def test_benign_request_aligner_always_on(
    benchmark: BenchmarkFixture, embedded_gateway: str
) -> None:
    key = create_tenant(embedded_gateway, "always", policy={"pipeline": ["aligner"]})
    seen: list[str] = []
    benchmark.pedantic(_ask, args=(embedded_gateway, key, seen), rounds=10, iterations=1)
    benchmark.extra_info["stages"] = seen


@pytest.mark.benchmark(group="gated-e2e")
def test_benign_request_aligner_gated(benchmark: BenchmarkFixture, embedded_gateway: str) -> None:
    key = create_tenant(
        embedded_gateway,
        "gated",
        policy={"pipeline": ["aligner"], "stages": {"aligner": {"gate": "gated"}}},
    )
    seen: list[str] = []
    benchmark.pedantic(_ask, args=(embedded_gateway, key, seen), rounds=10, iterations=1)
    benchmark.extra_info["stages"] = seen
