"""Shares with their 95% Wilson score intervals, as every reported rate carries."""

from __future__ import annotations

from pydantic import BaseModel


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
    """The share ``k/n`` with scipy's Wilson interval (an empty set is 0 of 0, interval [0, 1])."""
    if n == 0:
        return Share(k=0, n=0, rate=0.0, low=0.0, high=1.0)
    from scipy.stats import binomtest

    interval = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return Share(k=k, n=n, rate=k / n, low=float(interval.low), high=float(interval.high))
