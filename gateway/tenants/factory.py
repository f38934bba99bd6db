"""Choosing the tenant store from settings."""

from __future__ import annotations

from gateway.settings import GatewaySettings
from gateway.tenants.cached_store import CachedStore
from gateway.tenants.memory_store import MemoryStore
from gateway.tenants.ratelimit import MemoryRateLimiter, RateLimiter
from gateway.tenants.store import TenantStore


def build_store(settings: GatewaySettings) -> TenantStore:
    """Redis for replicas sharing state, SQLite for one node, memory for throwaway runs.

    The shared ones are read through ``CachedStore``: from memory until any writer
    changes them.
    """
    kind = settings.store
    if kind == "auto":
        kind = "redis" if settings.redis_url else "sqlite"
    if kind == "redis":
        if not settings.redis_url:
            raise ValueError("store 'redis' needs ALIGNGATE_REDIS_URL")
        from gateway.tenants.redis_store import RedisStore

        redis_store = RedisStore(settings.redis_url)
        return CachedStore(redis_store, redis_store.version)
    if kind == "sqlite":
        from gateway.tenants.sqlite_store import SqliteStore

        sqlite_store = SqliteStore(settings.sqlite_path)
        return CachedStore(sqlite_store, sqlite_store.version)
    return MemoryStore()  # already in memory, and one process's own


def build_rate_limiter(settings: GatewaySettings) -> RateLimiter:
    """Shared through Redis when the replicas share Redis, else per process."""
    if settings.redis_url and settings.store in ("auto", "redis"):
        from gateway.tenants.ratelimit import RedisRateLimiter

        return RedisRateLimiter(settings.redis_url)
    return MemoryRateLimiter()
