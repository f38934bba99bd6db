"""A store in memory: the fake for unit tests, and the store of a config-only gateway."""

from __future__ import annotations

from gateway.tenants.models import KeyRecord, Tenant
from gateway.tenants.store import RequestRecord, TenantChange


class MemoryStore:
    """Keeps everything in dicts; nothing survives the process."""

    def __init__(self) -> None:
        self._tenants: dict[str, Tenant] = {}
        self._keys: dict[str, KeyRecord] = {}
        self._records: list[RequestRecord] = []
        self._sealed = False
        self._secret: str | None = None

    async def has_tenants(self) -> bool:
        """Whether any tenant exists."""
        return bool(self._tenants)

    async def sealed(self) -> bool:
        """Whether a tenant was ever stored, or the store was sealed."""
        return self._sealed

    async def seal(self) -> None:
        """Require keys from now on."""
        self._sealed = True

    async def assignment_secret(self, candidate: str) -> str:
        """This process's assignment secret (the memory store serves one process)."""
        if self._secret is None:
            self._secret = candidate
        return self._secret

    async def get_tenant(self, name: str) -> Tenant | None:
        """One tenant, or None."""
        return self._tenants.get(name)

    async def list_tenants(self) -> list[Tenant]:
        """All tenants, by name."""
        return [self._tenants[name] for name in sorted(self._tenants)]

    async def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant."""
        self._tenants[tenant.name] = tenant
        self._sealed = True

    async def update_tenant(self, name: str, change: TenantChange) -> Tenant:
        """Apply a change; atomic because nothing awaits between the read and the write."""
        tenant = change(self._tenants.get(name))
        self._tenants[name] = tenant
        self._sealed = True
        return tenant

    async def delete_tenant(self, name: str) -> bool:
        """Delete a tenant and its keys."""
        self._keys = {k: r for k, r in self._keys.items() if r.tenant != name}
        return self._tenants.pop(name, None) is not None

    async def add_key(self, record: KeyRecord) -> None:
        """Store a key's digest."""
        self._keys[record.sha256] = record

    async def list_keys(self, tenant: str) -> list[KeyRecord]:
        """A tenant's key records."""
        return [r for r in self._keys.values() if r.tenant == tenant]

    async def delete_key(self, tenant: str, key_id: str) -> bool:
        """Revoke one key of a tenant."""
        for digest, record in list(self._keys.items()):
            if record.tenant == tenant and record.id == key_id:
                del self._keys[digest]
                return True
        return False

    async def find_key(self, sha256: str) -> KeyRecord | None:
        """The key record with this digest."""
        return self._keys.get(sha256)

    async def add_record(self, record: RequestRecord) -> None:
        """Append a request record."""
        self._records.append(record)

    async def records(self, tenant: str, experiment: str) -> list[RequestRecord]:
        """One experiment's records."""
        return [r for r in self._records if r.tenant == tenant and r.experiment == experiment]

    async def aclose(self) -> None:
        """Nothing to close."""
