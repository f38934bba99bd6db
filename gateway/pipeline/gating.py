"""Whether a stage runs for this request: always, never, or as the risk gate decides."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import structlog

from gateway.errors import StageFailed
from gateway.pipeline.trace import RequestTrace, StageOutcome, StageRecord

if TYPE_CHECKING:  # numpy stays out of quick mode
    from gateway.gate.risk_gate import RiskGate

log = structlog.get_logger(__name__)

GateMode = Literal["always", "never", "gated"]
Scorer = Callable[["RiskGate"], Awaitable[float]]


@dataclass(frozen=True)
class GateSetting:
    """A stage's gate mode and threshold (None: the shipped head's)."""

    mode: GateMode = "always"
    threshold: float | None = None


async def gate_allows(
    name: str,
    setting: GateSetting,
    gate: RiskGate | None,
    cut_off: Callable[[RiskGate], float],
    score: Scorer,
    on_failure: Literal["open", "closed"],
    trace: RequestTrace,
) -> dict[str, object] | None:
    """The gate's detail for the stage's record if it runs; None (recorded) if skipped.

    A gate that cannot score follows the failure policy: fail-open runs the stage as
    if always on (only the saving is lost), fail-closed is an error.
    """
    if setting.mode == "always":
        return {}
    if setting.mode == "never":
        trace.add(_skip(name, "gate mode 'never'", {}, 0.0))
        return None
    started = time.perf_counter()
    try:
        if gate is None:
            raise RuntimeError("no risk gate is loaded (config: gate.enabled)")
        value = await asyncio.wait_for(score(gate), timeout=gate.timeout_s)
    except Exception as exc:  # any failure to score goes through the policy
        log.warning("gate_failed", stage=name, error_type=type(exc).__name__)
        if on_failure == "closed":
            trace.add(
                StageRecord(stage=name, outcome=StageOutcome.FAILED, reason="risk gate failed")
            )
            raise StageFailed(
                f"the risk gate of stage '{name}' failed and the policy is fail-closed",
                code="gate_failed",
            ) from exc
        return {"gate_error": type(exc).__name__}
    threshold = setting.threshold if setting.threshold is not None else cut_off(gate)
    detail: dict[str, object] = {"gate_score": round(value, 4), "gate_threshold": threshold}
    if value < threshold:
        trace.add(_skip(name, "below the risk threshold", detail, started))
        return None
    return detail


def _skip(name: str, reason: str, detail: dict[str, object], started: float) -> StageRecord:
    elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
    return StageRecord(
        stage=name,
        outcome=StageOutcome.SKIPPED_BY_GATE,
        reason=reason,
        duration_ms=elapsed,
        detail=detail,
    )
