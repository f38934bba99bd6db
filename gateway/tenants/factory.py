"""Choosing the tenant store from settings."""

from __future__ import annotations

from gateway.settings import GatewaySettings
from gateway.tenants.memory_store import MemoryStore
from gateway.tenants.ratelimit import MemoryRateLimiter, RateLimiter
from gateway.tenants.store import TenantStore


def build_store(settings: GatewaySettings) -> TenantStore:
    """Redis for replicas sharing state, SQLite for one node, memory for throwaway runs."""
    kind = settings.store
    if kind == "auto":
        kind = "redis" if settings.redis_url else "sqlite"
    if kind == "redis":
        if not settings.redis_url:
            raise ValueError("store 'redis' needs ALIGNGATE_REDIS_URL")
        from gateway.tenants.redis_store import RedisStore

        return RedisStore(settings.redis_url)
    if kind == "sqlite":
        from gateway.tenants.sqlite_store import SqliteStore

        return SqliteStore(settings.sqlite_path)
    return MemoryStore()


def build_rate_limiter(settings: GatewaySettings) -> RateLimiter:
    """Shared through Redis when the replicas share Redis, else per process."""
    if settings.redis_url and settings.store in ("auto", "redis"):
        from gateway.tenants.ratelimit import RedisRateLimiter

        return RedisRateLimiter(settings.redis_url)
    return MemoryRateLimiter()
