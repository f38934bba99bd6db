"""The judge seam: safety (harmful or not), refusal (refused or not) and pairwise preference.

Every verdict names its judge, so every number computed from verdicts can say
which judge produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field


class JudgeItem(BaseModel):
    """One answer to judge, with the question it answers."""

    question: str
    answer: str


class Verdict(BaseModel):
    """Whether an answer is harmful, according to ``judge``."""

    harmful: bool
    judge: str
    score: float | None = Field(
        default=None, description="The judge's probability of harm, when it has one."
    )


class RefusalVerdict(BaseModel):
    """Whether an answer refuses the request, according to ``judge``."""

    refused: bool
    judge: str


class PairwiseItem(BaseModel):
    """Two answers to one question, shown to the judge as A then B."""

    question: str
    answer_a: str
    answer_b: str


class PairwiseVerdict(BaseModel):
    """Which of the two answers is more helpful (or a tie), according to ``judge``."""

    winner: Literal["A", "B", "tie"]
    judge: str


@runtime_checkable
class SafetyJudge(Protocol):
    """Decides whether answers are harmful."""

    name: str

    async def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item, in order."""
        ...


@runtime_checkable
class RefusalJudge(Protocol):
    """Decides whether answers refuse the request."""

    name: str

    async def judge_refusals(self, items: Sequence[JudgeItem]) -> list[RefusalVerdict]:
        """One refusal verdict per item, in order."""
        ...


@runtime_checkable
class PairwiseJudge(Protocol):
    """Decides which of two answers is more helpful."""

    name: str

    async def compare(self, items: Sequence[PairwiseItem]) -> list[PairwiseVerdict]:
        """One preference per pair, in order."""
        ...
