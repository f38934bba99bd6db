"""Admitting a tenant's request under its per-minute limits, and charging its tokens."""

from __future__ import annotations

from collections.abc import Callable

from gateway.errors import RateLimited
from gateway.tenants.models import Tenant
from gateway.tenants.ratelimit import Kind, RateLimiter, Usage

# Told a tenant's headroom (tenant, kind, what is left in its sliding minute) at each admit.
HeadroomReport = Callable[[str, Kind, int], None]


def _ignore(tenant: str, kind: Kind, left: int) -> None:
    """No one listens for headroom."""


class Quota:
    """Per-tenant requests and tokens per minute, counted by a (possibly shared) limiter."""

    def __init__(self, limiter: RateLimiter, headroom: HeadroomReport = _ignore) -> None:
        self.limiter = limiter
        self._headroom = headroom

    async def admit(self, tenant: Tenant) -> None:
        """429 with Retry-After when this request would pass a per-minute limit.

        A refused request still counts, so a client hammering past its limit stays limited.
        """
        limits = tenant.limits
        if limits.requests_per_minute is not None:
            usage = await self.limiter.add(tenant.name, "requests", 1)
            self._headroom(tenant.name, "requests", limits.requests_per_minute - usage.estimate)
            # the request just added is over the limit when the usage before it had reached it
            if usage.estimate - 1 >= limits.requests_per_minute:
                raise self._limited(
                    f"{limits.requests_per_minute} requests per minute",
                    usage,
                    limits.requests_per_minute,
                )
        if limits.tokens_per_minute is not None:
            usage = await self.limiter.add(tenant.name, "tokens", 0)
            self._headroom(tenant.name, "tokens", limits.tokens_per_minute - usage.estimate)
            if usage.estimate >= limits.tokens_per_minute:
                raise self._limited(
                    f"{limits.tokens_per_minute} tokens per minute", usage, limits.tokens_per_minute
                )

    async def charge(self, tenant: Tenant, tokens: int | None) -> None:
        """Count the tokens a finished request used against the tenant's token limit."""
        if tenant.limits.tokens_per_minute is not None and tokens:
            await self.limiter.add(tenant.name, "tokens", tokens)

    @staticmethod
    def _limited(what: str, usage: Usage, limit: int) -> RateLimited:
        return RateLimited(
            f"rate limit reached: this key allows {what}",
            code="rate_limit_exceeded",
            headers={"retry-after": str(usage.retry_after(limit))},
        )
