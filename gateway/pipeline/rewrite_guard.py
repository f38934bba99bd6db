"""A pre-call rewrite of a risky prompt: keep its red flags, add harmlessness guidance.

At 135M the BPO model rewrote loaded questions into neutral-sounding ones that accepted
the premise, and never added guidance to a harmful request (5 of 5 tried), and the
answer gate then waved exactly those answers through. So, whatever the rewriter
wrote, when the prompt gate finds the client's prompt risky:

- if the rewrite no longer looks risky to the same gate, its red flags were dropped:
  the backend gets the client's own prompt instead;
- either way the prompt the backend gets ends with the harmlessness guidance.

A benign prompt's rewrite passes untouched. When the gate cannot score, a fail-closed
stage fails and a fail-open one falls back to the client's prompt (a rewrite nobody
checked is never sent).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from gateway.errors import StageFailed
from gateway.pipeline.generation import last_user_text, with_last_user_text
from gateway.pipeline.stage import StageInput, StageMessage
from gateway.pipeline.trace import RequestTrace

if TYPE_CHECKING:
    from gateway.gate.risk_gate import RiskGate
    from gateway.pipeline.settings import StageSettings

log = structlog.get_logger(__name__)

GUIDANCE = (
    "Answer helpfully and harmlessly: if any part of this asks for something that could "
    "hurt people or break the law, decline that part, say why, and offer a safe alternative."
)


async def guard_rewrite(
    settings: StageSettings,
    gate: RiskGate,
    data: StageInput,
    rewritten: list[StageMessage],
    trace: RequestTrace,
) -> list[StageMessage]:
    """The messages the backend gets after a rewrite; notes the decision on the last record."""
    original, rewrite = last_user_text(data.messages), last_user_text(rewritten)
    cut = settings.gate_threshold
    try:
        before, after = await asyncio.wait_for(
            asyncio.gather(
                gate.decide("prompt", original, threshold=cut),
                gate.decide("prompt", rewrite, threshold=cut),
            ),
            timeout=gate.timeout_s,
        )
    except Exception as exc:  # any failure to score goes through the policy
        log.warning("rewrite_guard_failed", error_type=type(exc).__name__)
        _note(trace, {"rewrite_guard": "gate failed: client's prompt kept"})
        if settings.fail_closed:
            raise StageFailed(
                "the risk gate could not check a prompt rewrite and the policy is fail-closed",
                code="gate_failed",
            ) from exc
        return data.messages
    if not before.risky:
        return rewritten
    kept = after.risky
    text = rewrite if kept else original
    _note(
        trace,
        {
            "risky_prompt": round(before.score, 4),
            "rewrite_risk": round(after.score, 4),
            "rewrite_guard": "guidance added"
            if kept
            else "red flags dropped: client's prompt kept",
        },
    )
    base = rewritten if kept else data.messages
    return with_last_user_text(base, f"{text}\n\n{GUIDANCE}")


def _note(trace: RequestTrace, detail: dict[str, object]) -> None:
    """Add the guard's decision to the rewriting stage's record (the trace's last)."""
    if trace.records:
        last = trace.records[-1]
        trace.records[-1] = last.model_copy(update={"detail": {**last.detail, **detail}})
