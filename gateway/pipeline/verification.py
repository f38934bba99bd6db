"""After a post-call stage: is the answer it leaves behind still judged risky?

The Aligner is a small model; it may keep harmful content while reporting a change,
or keep a harmful answer as it was. With a risk gate loaded, the answer a post-call
stage leaves (its correction, or the original it kept) is scored again before it
counts as ``corrected`` or ``unchanged``. Still risky: a fail-closed stage answers
with a plain refusal instead (``refused``); a fail-open one lets the text through and
says so (``still-risky``). A gate that cannot score leaves the text unchecked: a
fail-closed stage treats that as a failure, a fail-open one says ``unverified``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from gateway.errors import StageFailed
from gateway.pipeline.stage import StageResult
from gateway.pipeline.trace import RequestTrace, StageOutcome

if TYPE_CHECKING:
    from gateway.gate.risk_gate import RiskGate
    from gateway.pipeline.settings import PlannedStage

log = structlog.get_logger(__name__)

_CHECKED = {StageOutcome.CORRECTED, StageOutcome.UNCHANGED}


async def verify(
    planned: PlannedStage,
    gate: RiskGate,
    question: str,
    original: str,
    result: StageResult,
    trace: RequestTrace,
) -> StageResult:
    """``result``, or a refusal / a still-risky mark when what it leaves is judged risky.

    ``trace`` holds the stage's record for this answer as its last entry; it is updated
    in place so headers, logs and metrics tell what really went out.
    """
    if result.outcome not in _CHECKED:
        return result
    final = result.content if result.outcome is StageOutcome.CORRECTED else None
    text = final if final is not None else original
    try:
        # The head's own cut-off, not a tenant's gate threshold: a tenant that lowers the
        # latter asks for the stage to run more often, not for more refusals.
        decision = await asyncio.wait_for(gate.decide("answer", question, text), gate.timeout_s)
    except Exception as exc:  # any failure to score leaves the answer unchecked
        log.warning("verification_failed", stage=planned.stage.name, error=type(exc).__name__)
        _update(trace, StageOutcome.UNVERIFIED, "the gate could not check the answer", {})
        if planned.settings.fail_closed:
            raise StageFailed(
                f"the answer of stage '{planned.stage.name}' could not be verified and this "
                "tenant's policy is fail-closed",
                code="stage_unverified",
            ) from exc
        return result.model_copy(update={"outcome": StageOutcome.UNVERIFIED})
    detail = decision.detail("verify")
    if not decision.risky:
        _update(trace, result.outcome, trace.records[-1].reason, detail)
        return result
    if planned.settings.fail_closed:
        _update(trace, StageOutcome.REFUSED, "the answer is still judged risky", detail)
        return result.model_copy(
            update={"outcome": StageOutcome.REFUSED, "content": planned.settings.refusal}
        )
    _update(trace, StageOutcome.STILL_RISKY, "the answer is still judged risky", detail)
    return result.model_copy(update={"outcome": StageOutcome.STILL_RISKY})


def _update(
    trace: RequestTrace, outcome: StageOutcome, reason: str | None, detail: dict[str, object]
) -> None:
    record = trace.records[-1]
    trace.records[-1] = record.model_copy(
        update={"outcome": outcome, "reason": reason, "detail": {**record.detail, **detail}}
    )
