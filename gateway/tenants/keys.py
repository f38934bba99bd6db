"""API keys: how they are made, stored (as digests) and read from a request."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid

from gateway.errors import AuthenticationFailed
from gateway.tenants.models import KeyRecord

KEY_PREFIX = "ag-"


def hash_key(key: str) -> str:
    """The stored form of an API key: hex SHA-256 (keys are random, so no salt is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(tenant: str, label: str = "") -> tuple[str, KeyRecord]:
    """A fresh random key and the record that stores only its digest."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = KeyRecord(
        id=uuid.uuid4().hex[:12],
        tenant=tenant,
        sha256=hash_key(key),
        prefix=key[:8],
        label=label,
        created_at=time.time(),
    )
    return key, record


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header; 401 if no key could look so."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    # Keys are printable ASCII. Anything else is no one's key, and forwarded upstream as
    # a client key (quick mode) it could not even be encoded into a header.
    if not (token.isascii() and token.isprintable()):
        raise AuthenticationFailed("invalid API key", code="invalid_api_key")
    return token or None
