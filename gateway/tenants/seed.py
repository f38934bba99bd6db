"""Seeding the store from the YAML config's tenants at start-up."""

from __future__ import annotations

import os
import time

import structlog

from gateway.config import TenantConfig
from gateway.tenants.keys import hash_key
from gateway.tenants.models import KeyRecord, Tenant
from gateway.tenants.store import TenantStore

log = structlog.get_logger(__name__)


async def seed_tenants(store: TenantStore, tenants: list[TenantConfig]) -> None:
    """Create missing tenants and keys; what the admin API changed since is kept."""
    for seed in tenants:
        if await store.get_tenant(seed.name) is None:
            tenant = Tenant(
                name=seed.name, policy=seed.policy, limits=seed.limits, experiments=seed.experiments
            )
            await store.put_tenant(tenant)
            log.info("tenant_seeded", tenant=seed.name)
        for index, digest in enumerate(_digests(seed)):
            if await store.find_key(digest) is None:
                await store.add_key(
                    KeyRecord(
                        id=f"seed-{index}-{digest[:8]}",
                        tenant=seed.name,
                        sha256=digest,
                        prefix="(config)",
                        label="from config",
                        created_at=time.time(),
                    )
                )


def _digests(seed: TenantConfig) -> list[str]:
    digests = [digest.lower() for digest in seed.api_key_sha256]
    for env in seed.api_key_envs:
        if env in os.environ:
            digests.append(hash_key(os.environ[env]))
        else:
            log.warning("tenant_key_env_missing", tenant=seed.name, env=env)
    return digests
