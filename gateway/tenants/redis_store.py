"""The shared store for several gateway replicas: Redis, with a version every write bumps."""

from __future__ import annotations

import asyncio
import importlib
import random
from typing import Any

from gateway.errors import Conflict
from gateway.tenants.models import KeyRecord, Tenant
from gateway.tenants.store import RequestRecord, TenantChange, read_tenant, read_tenants

# Request records per experiment are capped so a long experiment cannot fill Redis.
MAX_RECORDS = 200_000
# Optimistic updates retry when another writer got in first; past this, the caller retries.
MAX_UPDATE_ATTEMPTS = 50


class RedisStore:
    """Tenants as JSON strings, keys by digest, records in capped lists, under one prefix."""

    def __init__(self, url: str, prefix: str = "aligngate") -> None:
        redis = importlib.import_module("redis.asyncio")
        self._redis: Any = redis.from_url(url, decode_responses=True)
        self._watch_error: type[Exception] = importlib.import_module("redis.exceptions").WatchError
        self._p = prefix

    def _k(self, *parts: str) -> str:
        return ":".join((self._p, *parts))

    async def version(self) -> str | None:
        """Bumped in the transaction of every tenant, key or seal write, by any replica."""
        value: str | None = await self._redis.get(self._k("version"))
        return value

    async def has_tenants(self) -> bool:
        """Whether any tenant exists."""
        return bool(await self._redis.scard(self._k("tenants")))

    async def sealed(self) -> bool:
        """Whether the store ever held a tenant (or holds one, written before the seal)."""
        return bool(await self._redis.exists(self._k("sealed"))) or await self.has_tenants()

    async def seal(self) -> None:
        """Require keys from now on, for every replica."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._k("sealed"), "1")
            pipe.incr(self._k("version"))
            await pipe.execute()

    async def assignment_secret(self, candidate: str) -> str:
        """The shared secret; SET NX makes the first replica's candidate everyone's."""
        key = self._k("assignment-secret")
        await self._redis.set(key, candidate, nx=True)
        return str(await self._redis.get(key))

    async def get_tenant(self, name: str) -> Tenant | None:
        """One tenant, or None."""
        doc = await self._redis.get(self._k("tenant", name))
        return read_tenant(name, doc) if doc else None

    async def list_tenants(self) -> list[Tenant]:
        """All readable tenants, by name."""
        names = sorted(await self._redis.smembers(self._k("tenants")))
        docs = await self._redis.mget([self._k("tenant", n) for n in names]) if names else []
        return read_tenants((name, doc) for name, doc in zip(names, docs, strict=True) if doc)

    async def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant (atomically with its index entry)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._k("tenant", tenant.name), tenant.model_dump_json())
            pipe.sadd(self._k("tenants"), tenant.name)
            pipe.set(self._k("sealed"), "1")
            pipe.incr(self._k("version"))
            await pipe.execute()

    async def update_tenant(self, name: str, change: TenantChange) -> Tenant:
        """WATCH the tenant, read it, change it, and write it in MULTI/EXEC.

        EXEC fails if any replica wrote the tenant since the WATCH; then the whole
        read-change-write runs again on the new value, after a short random pause.
        """
        key = self._k("tenant", name)
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    doc = await pipe.get(key)
                    tenant = change(read_tenant(name, doc) if doc else None)
                    pipe.multi()
                    pipe.set(key, tenant.model_dump_json())
                    pipe.sadd(self._k("tenants"), name)
                    pipe.set(self._k("sealed"), "1")
                    pipe.incr(self._k("version"))
                    await pipe.execute()
                    return tenant
                except self._watch_error:
                    await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
        raise Conflict(
            f"tenant '{name}' kept changing under this update; retry", code="concurrent_update"
        )

    async def delete_tenant(self, name: str) -> bool:
        """Delete a tenant and its keys."""
        digests = await self._redis.smembers(self._k("tenant-keys", name))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._k("tenant", name))
            pipe.srem(self._k("tenants"), name)
            for digest in digests:
                pipe.delete(self._k("key", digest))
            pipe.delete(self._k("tenant-keys", name))
            pipe.incr(self._k("version"))
            results = await pipe.execute()
        return bool(results[0])

    async def add_key(self, record: KeyRecord) -> None:
        """Store a key's digest."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._k("key", record.sha256), record.model_dump_json())
            pipe.sadd(self._k("tenant-keys", record.tenant), record.sha256)
            pipe.incr(self._k("version"))
            await pipe.execute()

    async def list_keys(self, tenant: str) -> list[KeyRecord]:
        """A tenant's key records."""
        digests = sorted(await self._redis.smembers(self._k("tenant-keys", tenant)))
        docs = await self._redis.mget([self._k("key", d) for d in digests]) if digests else []
        return [KeyRecord.model_validate_json(doc) for doc in docs if doc]

    async def delete_key(self, tenant: str, key_id: str) -> bool:
        """Revoke one key of a tenant."""
        for record in await self.list_keys(tenant):
            if record.id == key_id:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.delete(self._k("key", record.sha256))
                    pipe.srem(self._k("tenant-keys", tenant), record.sha256)
                    pipe.incr(self._k("version"))
                    await pipe.execute()
                return True
        return False

    async def find_key(self, sha256: str) -> KeyRecord | None:
        """The key record with this digest."""
        doc = await self._redis.get(self._k("key", sha256))
        return KeyRecord.model_validate_json(doc) if doc else None

    async def add_record(self, record: RequestRecord) -> None:
        """Append a request record to its experiment's capped list."""
        key = self._k("records", record.tenant, record.experiment or "-")
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, record.model_dump_json())
            pipe.ltrim(key, -MAX_RECORDS, -1)
            await pipe.execute()

    async def records(self, tenant: str, experiment: str) -> list[RequestRecord]:
        """One experiment's records, oldest first."""
        docs = await self._redis.lrange(self._k("records", tenant, experiment), 0, -1)
        return [RequestRecord.model_validate_json(doc) for doc in docs]

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
