"""Which tenant a request belongs to, or whether the gateway runs open."""

from __future__ import annotations

import hmac

import structlog

from gateway.errors import AuthenticationFailed
from gateway.tenants.keys import hash_key
from gateway.tenants.models import Tenant
from gateway.tenants.store import TenantStore

log = structlog.get_logger(__name__)

# While the gateway runs open (its store never held a tenant), every caller is this tenant.
OPEN_TENANT = Tenant(name="open")


class Authenticator:
    """Maps a bearer token to its tenant through the store, on every request.

    Open mode is decided at start-up and can only end: once the store is sealed
    (it held a tenant, or ``require_keys`` sealed it) keys are required for good,
    so deleting the last tenant answers 401 to everyone instead of opening up.
    """

    def __init__(self, store: TenantStore) -> None:
        self._store = store
        self._keys_required = False

    async def start(self, require_keys: bool) -> bool:
        """Decide and persist whether keys are required; True if they are."""
        if require_keys or await self._store.has_tenants():
            await self._store.seal()  # also seals a store written before seals existed
        self._keys_required = await self._store.sealed()
        if self._keys_required and not await self._store.has_tenants():
            log.warning(
                "no_tenants_keys_required",
                message="no tenant exists and API keys are required: every API request "
                "gets 401 until a tenant is added through the admin API or the config",
            )
        return self._keys_required

    async def keys_required(self) -> bool:
        """Whether callers need a key; once True, never False again in this process."""
        if not self._keys_required and await self._store.sealed():
            self._keys_required = True
            log.warning("open_mode_ended", message="a tenant exists: API keys are now required")
        return self._keys_required

    async def authenticate(self, token: str | None) -> Tenant:
        """The token's tenant; 401 when keys are required and the token is missing or unknown."""
        if token is not None:
            digest = hash_key(token)
            record = await self._store.find_key(digest)
            # The lookup is by digest; compare_digest re-checks it without an early exit.
            if record is not None and hmac.compare_digest(record.sha256, digest):
                tenant = await self._store.get_tenant(record.tenant)
                if tenant is not None:
                    return tenant
        if not await self.keys_required():
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
