"""Judges behind one interface: each verdict carries the name of the judge that gave it."""

from evaluation.judges.base import (
    JudgeItem,
    PairwiseItem,
    PairwiseJudge,
    PairwiseVerdict,
    RefusalJudge,
    RefusalVerdict,
    SafetyJudge,
    Verdict,
)

__all__ = [
    "JudgeItem",
    "PairwiseItem",
    "PairwiseJudge",
    "PairwiseVerdict",
    "RefusalJudge",
    "RefusalVerdict",
    "SafetyJudge",
    "Verdict",
]
