"""Tenant reads come from memory, yet every replica sees an admin write on its next request."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from gateway.tenants.cached_store import CachedStore
from gateway.tenants.keys import new_key
from gateway.tenants.memory_store import MemoryStore
from gateway.tenants.models import KeyRecord, Tenant
from tests.support.gateway import ADMIN_KEY, admin, upstream_route
from tests.support.processes import aligngate, running_process
from tests.support.servers import free_port

T = TypeVar("T")


class CountingStore(MemoryStore):
    """The memory store, counting the per-request reads that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.version = 0

    async def find_key(self, sha256: str) -> KeyRecord | None:
        """Count, then read."""
        self.reads += 1
        return await super().find_key(sha256)

    async def get_tenant(self, name: str) -> Tenant | None:
        """Count, then read."""
        self.reads += 1
        return await super().get_tenant(name)


async def _in_a_request(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` in a task of its own, as every request is."""
    return await asyncio.ensure_future(work)


async def test_reads_are_served_from_memory_until_the_store_s_version_changes() -> None:
    inner = CountingStore()

    async def version() -> int:
        return inner.version

    store = CachedStore(inner, version)
    await inner.put_tenant(Tenant(name="acme"))
    _, record = new_key("acme", "ci")
    await inner.add_key(record)

    async def lookup() -> Tenant | None:
        found = await store.find_key(record.sha256)
        return None if found is None else await store.get_tenant(found.tenant)

    assert await _in_a_request(lookup()) == Tenant(name="acme")
    assert await _in_a_request(lookup()) == Tenant(name="acme")
    assert inner.reads == 2  # the second request read nothing from the store

    await inner.delete_key("acme", record.id)  # a write by another replica...
    assert await _in_a_request(lookup()) == Tenant(name="acme")  # ...not yet announced
    inner.version += 1  # ...and now its version shows it
    assert await _in_a_request(lookup()) is None
    assert inner.reads == 3


async def test_a_read_that_began_before_a_change_is_not_kept() -> None:
    inner = CountingStore()
    changed = asyncio.Event()

    async def version() -> int:
        return inner.version

    store = CachedStore(inner, version)
    await inner.put_tenant(Tenant(name="acme"))

    real_get = inner.get_tenant
    slow = [True]

    async def slow_get(name: str) -> Tenant | None:
        tenant = await real_get(name)
        if slow.pop() if slow else False:
            await changed.wait()  # the store changes while this (old) value is on its way
        return tenant

    inner.get_tenant = slow_get  # type: ignore[method-assign]
    stale = asyncio.ensure_future(store.get_tenant("acme"))
    await asyncio.sleep(0)
    await inner.delete_tenant("acme")
    inner.version += 1
    assert await _in_a_request(store.get_tenant("acme")) is None
    changed.set()
    assert await stale == Tenant(name="acme")
    assert await _in_a_request(store.get_tenant("acme")) is None  # the old value was dropped


def _chat(base: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]},
        timeout=30,
    )


@pytest.fixture(params=["sqlite", "redis"])
def replicas(
    request: pytest.FixtureRequest, tmp_path: Path, upstream_url: str, redis_url: str
) -> Iterator[tuple[str, str]]:
    """Two ``aligngate serve`` processes sharing one store: a SQLite file, or Redis."""
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"models": [upstream_route("gpt-test", upstream_url)]}))
    env = {"ALIGNGATE_ADMIN_KEY": ADMIN_KEY, "ALIGNGATE_LOG_LEVEL": "warning"}
    if request.param == "sqlite":
        env |= {"ALIGNGATE_STORE": "sqlite", "ALIGNGATE_SQLITE_PATH": str(tmp_path / "s.db")}
    else:
        env |= {"ALIGNGATE_STORE": "redis", "ALIGNGATE_REDIS_URL": redis_url}
    bases = []
    with ExitStack() as stack:
        for _ in range(2):
            port = free_port()
            command = aligngate("serve", "--config", str(config), "--port", str(port))
            base = f"http://127.0.0.1:{port}"
            stack.enter_context(running_process(command, f"{base}/healthz", env=env))
            bases.append(base)
        yield bases[0], bases[1]


def test_admin_writes_on_one_replica_are_seen_by_the_other_on_its_next_request(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    with admin(a) as http:
        http.post("/tenants", json={"name": "shared"}).raise_for_status()
        key = http.post("/tenants/shared/keys", json={}).json()["key"]
    # Both replicas have served the key, so both hold it (and the tenant) in memory.
    assert [_chat(a, key).status_code, _chat(b, key).status_code] == [200, 200]
    assert _chat(b, key).status_code == 200

    with admin(a) as http:  # a policy change on A...
        http.put("/tenants/shared/limits", json={"max_prompt_chars": 1}).raise_for_status()
    refused = _chat(b, key)  # ...holds on B's very next request
    assert refused.status_code == 400, refused.text

    with admin(b) as http:  # a revocation on B...
        key_id = http.get("/tenants/shared/keys").json()[0]["id"]
        http.delete(f"/tenants/shared/keys/{key_id}").raise_for_status()
    assert _chat(a, key).status_code == 401  # ...holds on A's
    assert _chat(b, key).status_code == 401
