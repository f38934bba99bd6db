"""What each stage did to one request, for headers, logs and metrics."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from gateway.protocol import Usage


class StageOutcome(StrEnum):
    """What a stage did; the values appear in the ``x-aligngate-stages`` header."""

    REWRITTEN = "rewritten"
    CORRECTED = "corrected"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    SKIPPED_BY_GATE = "skipped-by-gate"
    FAILED = "failed"
    TIMED_OUT = "timed-out"
    SHADOW_DIFF = "shadow-diff"
    REFUSED = "refused"  # still judged risky after the stage: a refusal went out instead
    STILL_RISKY = "still-risky"  # the same, fail-open: the text went out, flagged
    UNVERIFIED = "unverified"  # fail-open, and the gate could not check what went out


class StageRecord(BaseModel):
    """One stage's entry in a request's trace."""

    stage: str
    outcome: StageOutcome
    reason: str | None = Field(default=None, description="Why, when not plainly changed.")
    duration_ms: float = 0.0
    detail: dict[str, Any] = Field(default_factory=dict)


class RequestTrace(BaseModel):
    """The trace one request carries through the pipeline."""

    request_id: str
    experiment: str | None = None
    arm: str | None = None
    records: list[StageRecord] = Field(default_factory=list)
    backend_first_token_s: float | None = Field(
        default=None, description="Streams only: backend call to its first chunk."
    )
    backend_s: float | None = Field(
        default=None, description="Backend call to its whole answer (a stream's last chunk)."
    )
    total_tokens: int | None = Field(
        default=None, description="Backend tokens used, when the backend reported them."
    )
    input_tokens: int | None = None
    output_tokens: int | None = None
    answer: str | None = Field(
        default=None, description="The final answer text, when the gateway saw it whole."
    )

    def note_usage(self, usage: Usage | None) -> None:
        """Keep the backend's reported token counts (none when it reported none)."""
        if usage is None:
            self.total_tokens = self.input_tokens = self.output_tokens = None
            return
        self.total_tokens = usage.total_tokens
        self.input_tokens, self.output_tokens = usage.prompt_tokens, usage.completion_tokens

    def add(self, record: StageRecord) -> None:
        """Append a stage's record."""
        self.records.append(record)

    def stages_header(self) -> str:
        """Render the records as ``bpo=rewritten;aligner=unchanged``."""
        return ";".join(f"{r.stage}={r.outcome.value}" for r in self.records)
