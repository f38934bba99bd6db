"""The stores keep tenants, keys and records; SQLite survives crashes, Redis is shared."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.tenants.keys import new_key
from gateway.tenants.memory_store import MemoryStore
from gateway.tenants.models import Tenant, TenantPolicy
from gateway.tenants.redis_store import RedisStore
from gateway.tenants.sqlite_store import SqliteStore
from gateway.tenants.store import RequestRecord, TenantStore
from tests.support.gateway import ADMIN_KEY, admin, upstream_route
from tests.support.processes import aligngate, running_process
from tests.support.servers import free_port


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str
) -> AsyncIterator[TenantStore]:
    """Each store implementation, empty."""
    if request.param == "memory":
        made: TenantStore = MemoryStore()
    elif request.param == "sqlite":
        made = SqliteStore(tmp_path / "state.db")
    else:
        made = RedisStore(redis_url, prefix=f"test-{tmp_path.name}")
    yield made
    await made.aclose()


async def test_every_store_keeps_tenants_keys_and_records(store: TenantStore) -> None:
    assert not await store.has_tenants() and not await store.sealed()
    await store.put_tenant(Tenant(name="acme", policy=TenantPolicy(pipeline=["bpo"])))
    _, record = new_key("acme", "ci")
    await store.add_key(record)
    await store.add_record(
        RequestRecord(tenant="acme", experiment="x", arm="a", status=200, duration_ms=5, at=1.0)
    )
    tenant = await store.get_tenant("acme")
    assert tenant is not None and tenant.policy.pipeline == ["bpo"]
    assert [t.name for t in await store.list_tenants()] == ["acme"]
    assert await store.find_key(record.sha256) == record
    assert [r.arm for r in await store.records("acme", "x")] == ["a"]
    assert await store.delete_key("acme", record.id)
    assert await store.find_key(record.sha256) is None
    await store.add_key(record)
    assert await store.delete_tenant("acme")
    assert await store.find_key(record.sha256) is None
    assert not await store.has_tenants()
    assert await store.sealed()  # deleting the last tenant does not reopen the gateway


def _config_file(tmp_path: Path, upstream_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"models": [upstream_route("gpt-test", upstream_url)]}))
    return path


def _chat(base: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]},
    )


def _gateway(config: Path, port: int) -> list[str]:
    return aligngate("serve", "--config", str(config), "--port", str(port))


def test_sqlite_keeps_admin_changes_across_a_crash_and_restart(
    tmp_path: Path, upstream_url: str
) -> None:
    config, port = _config_file(tmp_path, upstream_url), free_port()
    env = {"ALIGNGATE_SQLITE_PATH": str(tmp_path / "state.db"), "ALIGNGATE_ADMIN_KEY": ADMIN_KEY}
    base = f"http://127.0.0.1:{port}"
    with running_process(_gateway(config, port), f"{base}/healthz", env=env) as process:
        with admin(base) as http:
            http.post("/tenants", json={"name": "acme"}).raise_for_status()
            key = http.post("/tenants/acme/keys", json={}).json()["key"]
            http.put("/tenants/acme/policy", json={"log_content": True}).raise_for_status()
        process.send_signal(signal.SIGKILL)  # no shutdown hook runs: only committed data stays
        process.wait()
    with running_process(_gateway(config, port), f"{base}/healthz", env=env):
        assert _chat(base, key).status_code == 200
        assert _chat(base, "ag-wrong").status_code == 401
        with admin(base) as http:
            assert http.get("/tenants/acme").json()["policy"]["log_content"] is True


def test_two_gateways_sharing_redis_see_each_others_changes(
    tmp_path: Path, upstream_url: str, redis_url: str
) -> None:
    config = _config_file(tmp_path, upstream_url)
    env = {"ALIGNGATE_REDIS_URL": redis_url, "ALIGNGATE_ADMIN_KEY": ADMIN_KEY}
    port_a, port_b = free_port(), free_port()
    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    with (
        running_process(_gateway(config, port_a), f"{a}/healthz", env=env),
        running_process(_gateway(config, port_b), f"{b}/healthz", env=env),
    ):
        with admin(a) as http:
            http.post("/tenants", json={"name": "shared"}).raise_for_status()
            key = http.post("/tenants/shared/keys", json={}).json()["key"]
        assert _chat(b, key).status_code == 200
        with admin(b) as http:
            key_id = http.get("/tenants/shared/keys").json()[0]["id"]
            http.delete(f"/tenants/shared/keys/{key_id}").raise_for_status()
        assert _chat(a, key).status_code == 401


async def test_every_store_keeps_the_first_assignment_secret_it_is_offered(
    store: TenantStore,
) -> None:
    assert await store.assignment_secret("first") == "first"
    assert await store.assignment_secret("second") == "first"
