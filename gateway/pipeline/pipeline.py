"""Runs the configured stages in order around the backend call, recording a trace."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import structlog

from gateway.errors import StageFailed
from gateway.pipeline.gating import check_gate
from gateway.pipeline.generation import last_user_text
from gateway.pipeline.rewrite_guard import guard_rewrite
from gateway.pipeline.settings import PlannedStage
from gateway.pipeline.stage import Answer, StageInput, StageResult
from gateway.pipeline.trace import RequestTrace, StageOutcome, StageRecord
from gateway.pipeline.verification import verify
from gateway.redaction import redact_excerpt
from gateway.tracing.genai import record_failure
from gateway.tracing.seam import NO_SPAN, Span

if TYPE_CHECKING:  # the gate pulls in numpy, which quick mode never needs
    from gateway.gate.risk_gate import RiskGate

log = structlog.get_logger(__name__)
_MAX_CAUSE_CHARS = 300

# Outcomes that mean a post-call stage changed the text, ranked for aggregating choices.
_CHANGES = {StageOutcome.REWRITTEN, StageOutcome.CORRECTED}
_FAILURES = {StageOutcome.FAILED, StageOutcome.TIMED_OUT}
# A failure outranks a correction: a header saying "corrected" while one choice went
# out uncorrected under fail-open would mislead the client.
_RANK = {
    StageOutcome.FAILED: 4,
    StageOutcome.TIMED_OUT: 4,
    StageOutcome.STILL_RISKY: 4,
    StageOutcome.UNVERIFIED: 4,
    StageOutcome.REFUSED: 3,
    StageOutcome.CORRECTED: 3,
    StageOutcome.REWRITTEN: 3,
    StageOutcome.SHADOW_DIFF: 2,
}


class Pipeline:
    """One request's ordered stages; the stages themselves are built once at start-up."""

    def __init__(
        self, stages: Sequence[PlannedStage], gate: RiskGate | None = None, span: Span = NO_SPAN
    ) -> None:
        self.pre = [s for s in stages if s.stage.phase == "pre"]
        self.post = [s for s in stages if s.stage.phase == "post"]
        self._gate = gate
        self._span = span  # the request's: each stage runs in a child of it

    @property
    def names(self) -> list[str]:
        """The stages this request runs, pre-call then post-call."""
        return [planned.stage.name for planned in (*self.pre, *self.post)]

    @property
    def has_post_stages(self) -> bool:
        """Whether the answer may be replaced, so streams must be buffered."""
        return bool(self.post)

    async def run_pre(self, data: StageInput, trace: RequestTrace) -> StageInput:
        """Run the pre-call stages in order; each sees the previous one's messages."""
        question = _last_user_text(data)
        for planned in self.pre:
            stage = planned.stage
            assert stage.phase == "pre"
            with self._stage_span(planned, trace):
                check = await check_gate(planned, self._gate, trace, question)
                if not check.runs:
                    continue
                result = await _run(planned, stage.before_call(data), trace, check.detail)
            if result is not None and result.messages is not None and not planned.settings.shadow:
                messages = result.messages
                if self._gate is not None:
                    messages = await guard_rewrite(
                        planned.settings, self._gate, data, messages, trace
                    )
                data = data.model_copy(update={"messages": messages})
        return data

    async def run_post(
        self, data: StageInput, answers: list[Answer], trace: RequestTrace
    ) -> list[Answer]:
        """Run the post-call stages in order on every choice; return the final answers."""
        if not answers:
            # A backend may answer 200 with no choices. There is no text to correct or
            # leak, and the same answer passes without stages, so it passes here too
            # (a 502 would make a configured stage change what the client sees).
            for planned in self.post:
                trace.add(
                    StageRecord(
                        stage=planned.stage.name, outcome=StageOutcome.SKIPPED, reason="no choices"
                    )
                )
            return answers
        for planned in self.post:
            with self._stage_span(planned, trace):
                answers = await self._post_stage(planned, data, answers, trace)
        return answers

    @contextmanager
    def _stage_span(self, planned: PlannedStage, trace: RequestTrace) -> Iterator[None]:
        """A child span of the request for one stage: gate, stage call and verification."""
        if not self._span.recording:
            yield
            return
        name = planned.stage.name
        attributes = {
            "aligngate.stage.name": name,
            "aligngate.stage.phase": planned.stage.phase,
            "aligngate.stage.on_failure": planned.settings.on_failure,
            "aligngate.stage.mode": planned.settings.run,
            "aligngate.stage.gate": planned.settings.gate,
        }
        span = self._span.child(f"stage {name}", attributes)
        first = len(trace.records)
        try:
            yield
        except BaseException as exc:
            record_failure(span, exc)
            raise
        finally:
            for record in trace.records[first:]:
                span.set(_record_attributes(record))
            span.end()

    async def _post_stage(
        self, planned: PlannedStage, data: StageInput, answers: list[Answer], trace: RequestTrace
    ) -> list[Answer]:
        """One post-call stage on every choice at once; one record for all of them."""
        sub_traces = [RequestTrace(request_id=trace.request_id) for _ in answers]
        # Every choice runs to its end (each is bounded by the stage timeout) before a
        # failure is raised, so the trace, the headers and the log say what the stage did.
        results = await asyncio.gather(
            *(
                self._post_one(planned, data, answer, sub)
                for answer, sub in zip(answers, sub_traces, strict=True)
            ),
            return_exceptions=True,
        )
        records = [sub.records[0] for sub in sub_traces if sub.records]
        if records:
            trace.add(_combine(records))
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [
            answer.model_copy(
                update={"content": r.content, "refused": r.outcome is StageOutcome.REFUSED}
            )
            if isinstance(r, StageResult) and r.content is not None and not planned.settings.shadow
            else answer
            for answer, r in zip(answers, results, strict=True)
        ]

    async def _post_one(
        self, planned: PlannedStage, data: StageInput, answer: Answer, trace: RequestTrace
    ) -> StageResult | None:
        """One choice through one post-call stage, behind its gate."""
        stage = planned.stage
        assert stage.phase == "post"
        question, text = _last_user_text(data), answer.content or ""
        check = await check_gate(planned, self._gate, trace, question, text)
        if not check.runs:
            return None
        result = await _run(planned, stage.after_call(data, answer), trace, check.detail)
        if result is None or planned.settings.shadow or self._gate is None:
            return result
        return await verify(planned, self._gate, question, text, result, trace)


def _last_user_text(data: StageInput) -> str:
    return last_user_text(data.original)


async def _run(
    planned: PlannedStage,
    call: Awaitable[StageResult],
    trace: RequestTrace,
    gate_detail: dict[str, object] | None = None,
) -> StageResult | None:
    """Run one stage call under its timeout; failures follow the fail-open/closed policy."""
    name, settings = planned.stage.name, planned.settings
    started = time.perf_counter()
    result: StageResult | None = None
    reason: str | None
    try:
        result = await asyncio.wait_for(call, timeout=settings.timeout_s)
    except TimeoutError:
        outcome, reason = StageOutcome.TIMED_OUT, f"over {settings.timeout_s:g}s"
    except Exception as exc:  # a stage may fail in any way; the policy decides, not the type
        log.warning("stage_failed", stage=name, error_type=type(exc).__name__, cause=_cause(exc))
        outcome, reason = StageOutcome.FAILED, type(exc).__name__
    else:
        outcome, reason = result.outcome, result.reason
        if outcome in _FAILURES:  # e.g. an engine that answered with no text
            log.warning("stage_failed", stage=name, reason=reason)
        if settings.shadow and outcome in _CHANGES:
            # Shadow mode: what the stage would have done is recorded, never applied.
            outcome, reason = StageOutcome.SHADOW_DIFF, f"would have {result.outcome.value}"
            result = result.model_copy(
                update={"detail": {**result.detail, "proposed": _proposed_text(result)}}
            )
    elapsed_ms = (time.perf_counter() - started) * 1000
    detail = {**(gate_detail or {}), **(result.detail if result is not None else {})}
    trace.add(
        StageRecord(
            stage=name, outcome=outcome, reason=reason, duration_ms=elapsed_ms, detail=detail
        )
    )
    if outcome in _FAILURES and settings.fail_closed:
        raise StageFailed(
            f"the alignment stage '{name}' {outcome.value.replace('-', ' ')} and this "
            "tenant's policy is fail-closed",
            code=f"stage_{outcome.value.replace('-', '_')}",
        )
    return result


def _record_attributes(record: StageRecord) -> dict[str, str | float | None]:
    """A stage record as span attributes: its outcome, why, and the gate's score."""
    detail = record.detail
    score, threshold = detail.get("gate_score"), detail.get("gate_threshold")
    return {
        "aligngate.stage.outcome": record.outcome.value,
        "aligngate.stage.reason": record.reason,
        "aligngate.gate.score": float(score) if isinstance(score, int | float) else None,
        "aligngate.gate.threshold": float(threshold)
        if isinstance(threshold, int | float)
        else None,
    }


def _cause(exc: Exception) -> str:
    """What the stage ran into (an engine's URL and status, a refused connection), redacted.

    Cut short: an engine error may quote a model server's answer, which is no place for
    a whole prompt.
    """
    return redact_excerpt(str(exc) or type(exc).__name__, _MAX_CAUSE_CHARS)


def _proposed_text(result: StageResult) -> str | None:
    if result.content is not None:
        return result.content
    if result.messages:
        users = [m.content for m in result.messages if m.role == "user"]
        return users[-1] if users else None
    return None


def _combine(records: list[StageRecord]) -> StageRecord:
    """One record for a stage that ran on several choices: the most telling outcome."""
    if len(records) == 1:
        return records[0]
    best = max(records, key=lambda r: _RANK.get(r.outcome, 1))
    return best.model_copy(
        update={
            "duration_ms": max(r.duration_ms for r in records),
            "detail": {"choices": [r.outcome.value for r in records]},
        }
    )
