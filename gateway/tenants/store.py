"""The store seam: where tenants, key digests and request records live."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from gateway.tenants.models import KeyRecord, Tenant


class RequestRecord(BaseModel):
    """What the experiment report needs of one served request."""

    tenant: str
    experiment: str | None
    arm: str | None
    status: int
    duration_ms: float
    stages: dict[str, str] = Field(default_factory=dict, description="stage name -> outcome")
    at: float


class TenantStore(Protocol):
    """Tenants and keys, shared by every gateway replica that uses the same store."""

    async def has_tenants(self) -> bool:
        """Whether any tenant exists (if none, the gateway runs open)."""
        ...

    async def get_tenant(self, name: str) -> Tenant | None:
        """One tenant, or None."""
        ...

    async def list_tenants(self) -> list[Tenant]:
        """All tenants, by name."""
        ...

    async def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant."""
        ...

    async def delete_tenant(self, name: str) -> bool:
        """Delete a tenant and its keys; False if it did not exist."""
        ...

    async def add_key(self, record: KeyRecord) -> None:
        """Store a key's digest for its tenant."""
        ...

    async def list_keys(self, tenant: str) -> list[KeyRecord]:
        """A tenant's key records."""
        ...

    async def delete_key(self, tenant: str, key_id: str) -> bool:
        """Revoke one key of a tenant; False if it has no such key."""
        ...

    async def find_key(self, sha256: str) -> KeyRecord | None:
        """The key record with this digest."""
        ...

    async def add_record(self, record: RequestRecord) -> None:
        """Append a request record (for experiment reports)."""
        ...

    async def records(self, tenant: str, experiment: str) -> list[RequestRecord]:
        """The records of one tenant's experiment, oldest first."""
        ...

    async def aclose(self) -> None:
        """Close connections."""
        ...
