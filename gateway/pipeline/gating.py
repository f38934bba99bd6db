"""Whether a stage runs for this request: always, never, or as the risk gate decides."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from gateway.errors import StageFailed
from gateway.pipeline.settings import PlannedStage
from gateway.pipeline.trace import RequestTrace, StageOutcome, StageRecord

if TYPE_CHECKING:  # numpy stays out of quick mode
    from gateway.gate.risk_gate import GateDecision, GatePhase, RiskGate

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class GateCheck:
    """The gating step's answer: whether the stage runs, and what the gate said."""

    runs: bool
    decision: GateDecision | None = None  # None: the gate was not asked, or failed
    error: str | None = None  # why a fail-open gate could not score

    @property
    def detail(self) -> dict[str, object]:
        """The gate's part of the stage's trace record."""
        if self.error is not None:
            return {"gate_error": self.error}
        return self.decision.detail() if self.decision is not None else {}


async def check_gate(
    planned: PlannedStage,
    gate: RiskGate | None,
    trace: RequestTrace,
    question: str,
    answer: str | None = None,
) -> GateCheck:
    """Whether ``planned`` runs on this prompt (pre-call) or answer (post-call).

    A skipped stage is recorded here. A gate that cannot score follows the failure
    policy: fail-open runs the stage as if always on (only the saving is lost),
    fail-closed is an error.
    """
    name, settings = planned.stage.name, planned.settings
    if settings.gate == "always":
        return GateCheck(runs=True)
    if settings.gate == "never":
        trace.add(_skip(name, "gate mode 'never'", {}, 0.0))
        return GateCheck(runs=False)
    phase: GatePhase = "prompt" if planned.stage.phase == "pre" else "answer"
    started = time.perf_counter()
    try:
        if gate is None:
            raise RuntimeError("no risk gate is loaded (config: gate.enabled)")
        decision = await asyncio.wait_for(
            gate.decide(phase, question, answer, settings.gate_threshold), timeout=gate.timeout_s
        )
    except Exception as exc:  # any failure to score goes through the policy
        log.warning("gate_failed", stage=name, error_type=type(exc).__name__)
        if settings.fail_closed:
            trace.add(
                StageRecord(stage=name, outcome=StageOutcome.FAILED, reason="risk gate failed")
            )
            raise StageFailed(
                f"the risk gate of stage '{name}' failed and the policy is fail-closed",
                code="gate_failed",
            ) from exc
        return GateCheck(runs=True, error=type(exc).__name__)
    result = GateCheck(runs=decision.risky, decision=decision)
    if not result.runs:
        trace.add(_skip(name, "below the risk threshold", result.detail, started))
    return result


def _skip(name: str, reason: str, detail: dict[str, object], started: float) -> StageRecord:
    elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
    return StageRecord(
        stage=name,
        outcome=StageOutcome.SKIPPED_BY_GATE,
        reason=reason,
        duration_ms=elapsed,
        detail=detail,
    )
