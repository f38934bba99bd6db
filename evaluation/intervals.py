"""Shares with their 95% Wilson score intervals, as every reported rate carries."""

from __future__ import annotations

from pydantic import BaseModel

from gateway.report import wilson


class Share(BaseModel):
    """``k`` of ``n``, its rate and the 95% Wilson interval."""

    k: int
    n: int
    rate: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.rate:.1%} [{self.low:.1%}, {self.high:.1%}] (n={self.n})"


def share(k: int, n: int) -> Share:
    """The share ``k/n`` with its Wilson interval (an empty set: 0 of 0, interval [0, 1])."""
    low, high = wilson(k, n)
    return Share(k=k, n=n, rate=k / n if n else 0.0, low=low, high=high)
