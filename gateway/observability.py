"""One place that turns a finished request into metrics, a log event and a stored record."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from pydantic import BaseModel

from gateway.errors import GatewayError
from gateway.metrics import Metrics
from gateway.pipeline.trace import RequestTrace
from gateway.redaction import redact_excerpt
from gateway.tenants.store import RequestRecord, TenantStore

log = structlog.get_logger("aligngate.requests")
_MAX_LOGGED_PATH = 200


class Finished(BaseModel):
    """What is known about a request once it is answered."""

    route: str
    model: str
    tenant: str
    trace: RequestTrace
    status: int
    error_type: str | None = None
    seconds: float
    prompt: str | None = None
    log_content: bool = False


class Observer:
    """Records every finished request; label values are bounded by the caller."""

    def __init__(
        self, metrics: Metrics, store: TenantStore, log_content_max_chars: int = 8192
    ) -> None:
        self.metrics = metrics
        self._store = store
        self._log_content_max_chars = log_content_max_chars
        self._pending: set[asyncio.Task[None]] = set()

    async def finished(self, done: Finished) -> None:
        """Count, time and log the request, and store its record for experiment reports."""
        self._count(done)
        fields = _log_fields(done)
        if done.log_content:
            # Redaction is CPU work on client-sized text: bounded to an excerpt, and in a
            # worker thread so the event loop keeps serving everyone else meanwhile.
            await asyncio.to_thread(self._log_with_content, fields, done)
        else:
            log.info("chat_request", **fields)
        if done.trace.experiment is not None:
            record = RequestRecord(
                tenant=done.tenant,
                experiment=done.trace.experiment,
                arm=done.trace.arm,
                status=done.status,
                duration_ms=done.seconds * 1000,
                stages={r.stage: r.outcome.value for r in done.trace.records},
                at=time.time(),
            )
            # Written after the answer: the client never waits on the store.
            task = asyncio.get_running_loop().create_task(self._store.add_record(record))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def _count(self, done: Finished) -> None:
        arm = done.trace.arm or "none"
        labels = (done.route, done.model, done.tenant, arm)
        self.metrics.requests.labels(*labels, str(done.status)).inc()
        self.metrics.latency.labels(*labels).observe(done.seconds)
        if done.error_type is not None:
            self.metrics.errors.labels(*labels, done.error_type).inc()
        self._count_backend(done)
        for record in done.trace.records:
            stage_labels = (record.stage, done.model, done.tenant, arm)
            self.metrics.stage_latency.labels(*stage_labels).observe(record.duration_ms / 1000)
            self.metrics.stage_outcomes.labels(*stage_labels, record.outcome.value).inc()
            score = record.detail.get("gate_score")
            if isinstance(score, float):
                self.metrics.gate_scores.labels(record.stage, done.tenant).observe(score)
            for direction in ("prompt_tokens", "completion_tokens"):
                tokens = record.detail.get(direction)
                if isinstance(tokens, int) and tokens > 0:
                    label = "in" if direction == "prompt_tokens" else "out"
                    self.metrics.stage_tokens.labels(record.stage, label).inc(tokens)

    def _count_backend(self, done: Finished) -> None:
        """The backend's share of the request: its time, first chunk, and tokens."""
        trace, metrics = done.trace, self.metrics
        if trace.backend_first_token_s is not None:
            metrics.backend_ttft.labels(done.model).observe(trace.backend_first_token_s)
        if trace.backend_s is not None:
            metrics.backend_duration.labels(done.model).observe(trace.backend_s)
            overhead = max(0.0, done.seconds - trace.backend_s)
            metrics.overhead.labels(done.route, done.model).observe(overhead)
        for counter, tokens in (
            (metrics.input_tokens, trace.input_tokens),
            (metrics.output_tokens, trace.output_tokens),
            (metrics.total_tokens, trace.total_tokens),
        ):
            if tokens:
                counter.labels(done.model, done.tenant).inc(tokens)

    def _log_with_content(self, fields: dict[str, Any], done: Finished) -> None:
        limit = self._log_content_max_chars
        for entry, record in zip(fields["stages"], done.trace.records, strict=True):
            proposed = record.detail.get("proposed")
            if isinstance(proposed, str):
                entry["proposed"] = redact_excerpt(proposed, limit)
        fields["prompt"] = redact_excerpt(done.prompt, limit) if done.prompt else None
        answer = done.trace.answer
        fields["answer"] = redact_excerpt(answer, limit) if answer else None
        log.info("chat_request", **fields)

    def rejected(self, request_id: str, path: str, error: GatewayError) -> None:
        """Count and log a request refused before any route answered it."""
        # The reason is the error's code, a fixed set; nothing the client sent but the
        # (cut) path is logged, so no key material either.
        reason = error.code or error.error_type
        self.metrics.rejected.labels(reason).inc()
        log.warning(
            "request_rejected",
            request_id=request_id,
            path=path[:_MAX_LOGGED_PATH],
            status=error.status_code,
            reason=reason,
        )

    async def drain(self) -> None:
        """Wait for pending record writes (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


def _log_fields(done: Finished) -> dict[str, Any]:
    stages = []
    for record in done.trace.records:
        entry: dict[str, Any] = {
            "stage": record.stage,
            "outcome": record.outcome.value,
            "reason": record.reason,
            "duration_ms": round(record.duration_ms, 2),
        }
        if "gate_score" in record.detail:
            entry["gate_score"] = record.detail["gate_score"]
        stages.append(entry)
    return {
        "request_id": done.trace.request_id,
        "route": done.route,
        "tenant": done.tenant,
        "model": done.model,
        "experiment": done.trace.experiment,
        "arm": done.trace.arm,
        "status": done.status,
        "error_type": done.error_type,
        "duration_ms": round(done.seconds * 1000, 2),
        "stages": stages,
    }
