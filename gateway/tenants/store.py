"""The store seam: where tenants, key digests and request records live."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import structlog
from pydantic import BaseModel, Field, ValidationError

from gateway.errors import GatewayError
from gateway.tenants.models import KeyRecord, Tenant

log = structlog.get_logger(__name__)


# What an atomic update does to a tenant: the stored one (None if absent) -> the new one.
TenantChange = Callable[[Tenant | None], Tenant]


class UnreadableTenant(GatewayError):
    """A stored tenant record fails validation (an older gateway wrote it): 503 until repaired."""

    status_code = 503
    error_type = "api_error"


def read_tenant(name: str, doc: str) -> Tenant:
    """A stored tenant document, parsed; an unreadable one is logged and raised as a 503."""
    try:
        return Tenant.model_validate_json(doc)
    except ValidationError as error:
        log.error("tenant_unreadable", tenant=name, error=str(error))
        raise UnreadableTenant(
            f"the stored record of tenant '{name}' is unreadable; an admin must replace it "
            f"(PUT /admin/tenants/{name}) or delete it",
            code="tenant_unreadable",
        ) from error


def read_tenants(docs: Iterable[tuple[str, str]]) -> list[Tenant]:
    """The readable ones of (name, document) pairs.

    One bad record must not hide every good one from the operator who has to fix
    it; it is logged here and still answers, with its own 503, by its name.
    """
    tenants = []
    for name, doc in docs:
        try:
            tenants.append(read_tenant(name, doc))
        except UnreadableTenant:
            continue
    return tenants


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
        """Whether any tenant exists now."""
        ...

    async def sealed(self) -> bool:
        """Whether this store ever held a tenant or was sealed: then the gateway never runs open.

        Writing a tenant seals the store in the same transaction, and nothing unseals
        it, so deleting the last tenant cannot open a gateway.
        """
        ...

    async def seal(self) -> None:
        """Require API keys from now on, for every replica sharing this store."""
        ...

    async def assignment_secret(self, candidate: str) -> str:
        """The deployment's experiment-assignment secret, storing ``candidate`` if none is.

        The first writer wins, so every replica sharing the store gets the same one.
        """
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

    async def update_tenant(self, name: str, change: TenantChange) -> Tenant:
        """Store ``change(current)`` (current is None if absent) atomically and return it.

        No write by any replica lands between the read and the write. ``change`` must
        be pure: an optimistic store may call it more than once, and an exception
        from it writes nothing.
        """
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
