"""Tenant reads from memory on the hot path, dropped whenever the shared store changes.

Every request reads its key, its tenant and (while open) the seal. Served from
SQLite that was two thread hops per request, from Redis two or three round
trips. Here each request asks the store only for its version (SQLite's
``data_version``, read on the event loop: no I/O; one Redis GET), and any write
by any replica changes it, so the next request after an admin write reads the
new state, whichever replica took the write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

from gateway.tenants.models import KeyRecord, Tenant
from gateway.tenants.store import RequestRecord, TenantChange, TenantStore

T = TypeVar("T")
# Entries beyond this clear the cache: unknown keys are never kept, so this bounds
# the cost of many tenants, not of an attacker's guesses.
MAX_ENTRIES = 10_000
# The cache, generation and task that last checked the version in this context: one
# version read per request (every request runs in a task of its own), not per read. The
# task is part of it because a task's context is copied from its creator's.
_CHECKED: ContextVar[tuple[object, int, object] | None] = ContextVar(
    "aligngate_store_checked", default=None
)


class CachedStore:
    """Wraps a shared store; reads of keys, tenants and the seal come from memory."""

    def __init__(self, inner: TenantStore, version: Callable[[], Awaitable[object]]) -> None:
        self._inner = inner
        self._version = version
        self._seen: object = None
        self._generation = 0  # bumped on every clear: a read begun before it is not kept
        self._keys: dict[str, KeyRecord] = {}
        self._tenants: dict[str, Tenant] = {}
        self._sealed = False

    async def _fresh(self) -> int:
        """Drop everything if the store changed since the last look; the current generation."""
        task = asyncio.current_task()
        checked = _CHECKED.get()
        if checked is not None and checked[0] is self and checked[2] is task:
            if checked[1] == self._generation:
                return self._generation
        version = await self._version()
        if version != self._seen:
            self._clear()
            self._seen = version
        _CHECKED.set((self, self._generation, task))
        return self._generation

    def _clear(self) -> None:
        self._generation += 1
        self._keys.clear()
        self._tenants.clear()
        self._sealed = False

    def _keep(self, generation: int, table: dict[str, T], key: str, value: T) -> None:
        if generation != self._generation:
            return  # the store changed while this was read: it may predate the change
        if len(self._keys) + len(self._tenants) >= MAX_ENTRIES:
            self._clear()
            _CHECKED.set(None)
            return
        table[key] = value

    async def find_key(self, sha256: str) -> KeyRecord | None:
        """The key record with this digest, from memory while the store is unchanged."""
        return await self._read_through(self._keys, sha256, self._inner.find_key)

    async def get_tenant(self, name: str) -> Tenant | None:
        """One tenant, from memory while the store is unchanged."""
        return await self._read_through(self._tenants, name, self._inner.get_tenant)

    async def _read_through(
        self, table: dict[str, T], key: str, fetch: Callable[[str], Awaitable[T | None]]
    ) -> T | None:
        """``table[key]`` while the store is unchanged, else ``fetch``ed and kept if found."""
        generation = await self._fresh()
        if key in table:
            return table[key]
        value = await fetch(key)
        if value is not None:
            self._keep(generation, table, key, value)
        return value

    async def sealed(self) -> bool:
        """Whether keys are required; only True is kept, as nothing unseals a store."""
        generation = await self._fresh()
        if self._sealed:
            return True
        sealed = await self._inner.sealed()
        if sealed and generation == self._generation:
            self._sealed = True
        return sealed

    # Everything else goes to the store itself: readiness probes it with has_tenants,
    # and writes change its version, which is what the next read looks at.

    async def has_tenants(self) -> bool:
        """Whether any tenant exists now (read from the store: readiness probes it)."""
        return await self._inner.has_tenants()

    async def seal(self) -> None:
        """Require keys from now on."""
        await self._inner.seal()

    async def assignment_secret(self, candidate: str) -> str:
        """The shared assignment secret."""
        return await self._inner.assignment_secret(candidate)

    async def list_tenants(self) -> list[Tenant]:
        """All tenants (the admin API's read, never cached)."""
        return await self._inner.list_tenants()

    async def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant."""
        await self._inner.put_tenant(tenant)
        self._clear()

    async def update_tenant(self, name: str, change: TenantChange) -> Tenant:
        """Change a tenant atomically."""
        tenant = await self._inner.update_tenant(name, change)
        self._clear()
        return tenant

    async def delete_tenant(self, name: str) -> bool:
        """Delete a tenant and its keys."""
        deleted = await self._inner.delete_tenant(name)
        self._clear()
        return deleted

    async def add_key(self, record: KeyRecord) -> None:
        """Store a key's digest."""
        await self._inner.add_key(record)
        self._clear()

    async def list_keys(self, tenant: str) -> list[KeyRecord]:
        """A tenant's key records."""
        return await self._inner.list_keys(tenant)

    async def delete_key(self, tenant: str, key_id: str) -> bool:
        """Revoke one key."""
        deleted = await self._inner.delete_key(tenant, key_id)
        self._clear()
        return deleted

    async def add_record(self, record: RequestRecord) -> None:
        """Append a request record."""
        await self._inner.add_record(record)

    async def records(self, tenant: str, experiment: str) -> list[RequestRecord]:
        """One experiment's records."""
        return await self._inner.records(tenant, experiment)

    async def aclose(self) -> None:
        """Close the store."""
        await self._inner.aclose()
