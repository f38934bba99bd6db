"""API keys: which tenant a request belongs to, or whether the gateway runs open."""

from __future__ import annotations

import hashlib
import hmac
import os

from pydantic import BaseModel

from gateway.config import TenantConfig
from gateway.errors import AuthenticationFailed


class Tenant(BaseModel):
    """The tenant a request was authenticated as."""

    name: str


OPEN_TENANT = Tenant(name="open")


def hash_key(key: str) -> str:
    """The stored form of an API key: hex SHA-256 (keys are random, so no salt is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class KeyAuthenticator:
    """Maps API keys to tenants; with no tenants it runs open and accepts any key."""

    def __init__(self, tenants: list[TenantConfig]) -> None:
        self._by_hash: dict[str, Tenant] = {}
        for tenant in tenants:
            digests = list(tenant.api_key_sha256)
            digests += [
                hash_key(os.environ[env]) for env in tenant.api_key_envs if env in os.environ
            ]
            for digest in digests:
                self._by_hash[digest.lower()] = Tenant(name=tenant.name)
        self.open = not tenants

    def authenticate(self, token: str | None) -> Tenant:
        """The tenant owning ``token``; raises 401 when keys are required and it is unknown."""
        if self.open:
            return OPEN_TENANT
        if token is None:
            raise AuthenticationFailed(
                "missing API key: send it as 'Authorization: Bearer <key>'", code="missing_api_key"
            )
        digest = hash_key(token)
        # Every stored digest is compared in constant time, so timing reveals no near-miss.
        for stored, tenant in self._by_hash.items():
            if hmac.compare_digest(stored, digest):
                return tenant
        raise AuthenticationFailed("invalid API key", code="invalid_api_key")
