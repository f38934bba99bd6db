"""The stage seam: what a pre-call or post-call stage sees and returns."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from gateway.pipeline.trace import StageOutcome


class StageMessage(BaseModel):
    """A chat message as stages see it: role and plain-text content."""

    role: str
    content: str | None = None


class StageInput(BaseModel):
    """The conversation a stage works on.

    ``original`` is what the client sent and never changes; ``messages`` is what the
    backend will see, as rewritten by earlier pre-call stages.
    """

    model: str
    original: list[StageMessage]
    messages: list[StageMessage]
    response_format: dict[str, Any] | None = Field(
        default=None, description="The request's structured-output format, if any."
    )


class Answer(BaseModel):
    """One backend answer (a choice) as a post-call stage sees it."""

    content: str | None = None
    has_tool_calls: bool = False
    refused: bool = Field(
        default=False, description="``content`` is a stage's refusal, not an answer."
    )


class StageResult(BaseModel):
    """A stage's verdict; ``messages`` or ``content`` is set when it changed something."""

    outcome: StageOutcome
    reason: str | None = None
    messages: list[StageMessage] | None = None
    content: str | None = None
    detail: dict[str, object] = Field(default_factory=dict)


class PreCallStage(Protocol):
    """Runs before the backend call and may rewrite the messages."""

    name: str
    phase: Literal["pre"]

    async def before_call(self, data: StageInput) -> StageResult:
        """Return a result whose ``messages`` replace the conversation when set."""
        ...


class PostCallStage(Protocol):
    """Runs after the backend call and may replace the answer's content."""

    name: str
    phase: Literal["post"]

    async def after_call(self, data: StageInput, answer: Answer) -> StageResult:
        """Return a result whose ``content`` replaces the answer when set."""
        ...


Stage = PreCallStage | PostCallStage
