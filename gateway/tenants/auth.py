"""Which tenant a request belongs to, or whether the gateway runs open."""

from __future__ import annotations

import hmac

from gateway.errors import AuthenticationFailed
from gateway.tenants.keys import hash_key
from gateway.tenants.models import Tenant
from gateway.tenants.store import TenantStore

# With no tenants at all the gateway is open: every caller is this tenant.
OPEN_TENANT = Tenant(name="open")


class Authenticator:
    """Maps a bearer token to its tenant through the store, on every request."""

    def __init__(self, store: TenantStore) -> None:
        self._store = store

    async def authenticate(self, token: str | None) -> Tenant:
        """The token's tenant; 401 when tenants exist and the token is missing or unknown."""
        if token is not None:
            digest = hash_key(token)
            record = await self._store.find_key(digest)
            # The lookup is by digest; compare_digest re-checks it without an early exit.
            if record is not None and hmac.compare_digest(record.sha256, digest):
                tenant = await self._store.get_tenant(record.tenant)
                if tenant is not None:
                    return tenant
        if not await self._store.has_tenants():
            return OPEN_TENANT
        if token is None:
            raise AuthenticationFailed(
                "missing API key: send it as 'Authorization: Bearer <key>'", code="missing_api_key"
            )
        raise AuthenticationFailed("invalid API key", code="invalid_api_key")


def check_admin_key(token: str | None, admin_key: str | None) -> None:
    """The admin API's own key, compared in constant time; 401 on any mismatch."""
    if admin_key is None:
        raise AuthenticationFailed(
            "the admin API is disabled: set ALIGNGATE_ADMIN_KEY", code="admin_disabled"
        )
    if token is None or not hmac.compare_digest(hash_key(token), hash_key(admin_key)):
        raise AuthenticationFailed("invalid admin key", code="invalid_admin_key")
