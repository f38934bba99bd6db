"""The gating step: runs or skipped, the gate's decision on the record, the failure policy."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import pytest

from gateway.errors import StageFailed
from gateway.gate.risk_gate import RiskGate
from gateway.pipeline.gating import check_gate
from gateway.pipeline.settings import PlannedStage, StageSettings
from gateway.pipeline.stage import Answer, StageInput, StageResult
from gateway.pipeline.trace import RequestTrace, StageOutcome
from gateway.stage_modes import FailurePolicy, GateMode
from tests.gateway.gate.test_risk_gate import KeywordEmbedder, keyword_gate


class Corrector:
    """A post-call stage that is never called here: gating happens before it."""

    name = "aligner"
    phase: Literal["post"] = "post"

    async def after_call(self, data: StageInput, answer: Answer) -> StageResult:
        """Not reached."""
        raise AssertionError("the gating step does not call the stage")


class Rewriter:
    """A pre-call stage, never called here either."""

    name = "bpo"
    phase: Literal["pre"] = "pre"

    async def before_call(self, data: StageInput) -> StageResult:
        """Not reached."""
        raise AssertionError("the gating step does not call the stage")


class SlowEmbedder(KeywordEmbedder):
    """Answers, but later than the gate's budget."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Sleep first."""
        time.sleep(0.3)
        return super().encode(texts)


def _planned(
    gate: GateMode = "gated",
    on_failure: FailurePolicy = "open",
    threshold: float | None = None,
    post: bool = True,
) -> PlannedStage:
    settings = StageSettings(
        timeout_s=5.0, on_failure=on_failure, refusal="No.", gate=gate, gate_threshold=threshold
    )
    return PlannedStage(stage=Corrector() if post else Rewriter(), settings=settings)


@pytest.mark.parametrize("mode", ["always", "never"])
async def test_always_and_never_do_not_ask_the_gate(mode: GateMode) -> None:
    embedder, trace = KeywordEmbedder(), RequestTrace(request_id="r")
    check = await check_gate(_planned(mode), keyword_gate(embedder), trace, "bomb", "a bomb")
    assert embedder.calls == []
    assert check.runs is (mode == "always") and check.decision is None and check.detail == {}
    outcomes = [(r.stage, r.outcome, r.reason) for r in trace.records]
    expected = [("aligner", StageOutcome.SKIPPED_BY_GATE, "gate mode 'never'")]
    assert outcomes == ([] if mode == "always" else expected)


async def test_a_risky_answer_runs_the_stage_with_the_decision_for_its_record() -> None:
    trace = RequestTrace(request_id="r")
    check = await check_gate(_planned(), keyword_gate(KeywordEmbedder()), trace, "bomb", "a bomb")
    assert check.runs and trace.records == []
    assert check.decision is not None and check.decision.phase == "answer"
    assert check.detail == {"gate_score": round(check.decision.score, 4), "gate_threshold": 0.5}


async def test_a_benign_prompt_skips_a_pre_call_stage_and_says_why() -> None:
    trace = RequestTrace(request_id="r")
    gate = keyword_gate(KeywordEmbedder())
    check = await check_gate(_planned(post=False), gate, trace, "explain tides")
    assert not check.runs and check.decision is not None and check.decision.phase == "prompt"
    [record] = trace.records
    assert (record.stage, record.outcome) == ("bpo", StageOutcome.SKIPPED_BY_GATE)
    assert record.reason == "below the risk threshold"
    assert set(record.detail) == {"gate_score", "gate_threshold"}


async def test_the_tenant_threshold_replaces_the_shipped_cut_off() -> None:
    trace = RequestTrace(request_id="r")
    planned = _planned(post=False, threshold=0.01)
    check = await check_gate(planned, keyword_gate(KeywordEmbedder()), trace, "explain tides")
    assert check.runs and check.detail["gate_threshold"] == 0.01


@pytest.mark.parametrize("cause", ["no gate", "down", "slow"])
async def test_a_gate_that_cannot_score_runs_the_stage_when_fail_open(cause: str) -> None:
    gate = _broken(cause)
    trace = RequestTrace(request_id="r")
    check = await check_gate(_planned(), gate, trace, "bomb", "a bomb")
    assert check.runs and trace.records == []
    expected = {"no gate": "RuntimeError", "down": "RuntimeError", "slow": "TimeoutError"}
    assert check.detail == {"gate_error": expected[cause]}


@pytest.mark.parametrize("cause", ["no gate", "down", "slow"])
async def test_a_gate_that_cannot_score_is_an_error_when_fail_closed(cause: str) -> None:
    trace = RequestTrace(request_id="r")
    with pytest.raises(StageFailed) as raised:
        await check_gate(_planned(on_failure="closed"), _broken(cause), trace, "bomb", "a bomb")
    assert raised.value.code == "gate_failed"
    [record] = trace.records
    assert (record.outcome, record.reason) == (StageOutcome.FAILED, "risk gate failed")


def _broken(cause: str) -> RiskGate | None:
    if cause == "no gate":
        return None
    if cause == "down":
        return keyword_gate(KeywordEmbedder(fail=True))
    gate = keyword_gate(SlowEmbedder())
    gate.timeout_s = 0.05
    return gate
