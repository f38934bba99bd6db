"""Open mode ends for good once a store has held a tenant: deleting the last one keeps it shut."""

from __future__ import annotations

from pathlib import Path

import httpx
from structlog.testing import capture_logs

from gateway.tenants.memory_store import MemoryStore
from gateway.tenants.redis_store import RedisStore
from gateway.tenants.sqlite_store import SqliteStore
from tests.support.gateway import ADMIN_KEY, admin, create_tenant, running_gateway, upstream_route


def _chat(url: str, key: str | None) -> int:
    headers = {"authorization": f"Bearer {key}"} if key is not None else {}
    response = httpx.post(
        f"{url}/v1/chat/completions",
        headers=headers,
        json={"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]},
    )
    if response.status_code == 401:
        assert response.json()["error"]["type"] == "authentication_error"
    return response.status_code


def _config(upstream_url: str) -> dict[str, object]:
    return {"models": [upstream_route("gpt-test", upstream_url)]}


def test_deleting_the_last_tenant_does_not_open_the_gateway(
    tmp_path: Path, upstream_url: str
) -> None:
    store = SqliteStore(tmp_path / "state.db")
    with running_gateway(_config(upstream_url), store=store, admin_key=ADMIN_KEY) as url:
        open_at_start = _chat(url, "sk-anything")
        key = create_tenant(url, "acme")
        with capture_logs() as logs, admin(url) as http:
            http.delete("/tenants/acme").raise_for_status()
        after = [_chat(url, "sk-anything"), _chat(url, None), _chat(url, key)]
    assert open_at_start == 200
    assert after == [401, 401, 401]
    [warning] = [e for e in logs if e["event"] == "last_tenant_deleted"]
    assert warning["log_level"] == "warning"


def test_a_restart_on_a_store_that_had_tenants_stays_shut(
    tmp_path: Path, upstream_url: str
) -> None:
    path = tmp_path / "state.db"
    with running_gateway(
        _config(upstream_url), store=SqliteStore(path), admin_key=ADMIN_KEY
    ) as url:
        create_tenant(url, "acme")
        with admin(url) as http:
            http.delete("/tenants/acme").raise_for_status()
    with capture_logs() as logs:
        with running_gateway(_config(upstream_url), store=SqliteStore(path)) as url:
            after = [_chat(url, "sk-anything"), _chat(url, None)]
    assert after == [401, 401]
    assert "open_mode" not in [e["event"] for e in logs]
    assert any(e["event"] == "no_tenants_keys_required" for e in logs)


def test_a_replica_that_started_open_shuts_when_another_adds_a_tenant(
    tmp_path: Path, upstream_url: str, redis_url: str
) -> None:
    prefix = f"test-{tmp_path.name}"
    with (
        running_gateway(
            _config(upstream_url), store=RedisStore(redis_url, prefix=prefix), admin_key=ADMIN_KEY
        ) as a,
        running_gateway(_config(upstream_url), store=RedisStore(redis_url, prefix=prefix)) as b,
    ):
        open_at_start = _chat(b, "sk-anything")
        create_tenant(a, "acme")
        with admin(a) as http:
            http.delete("/tenants/acme").raise_for_status()
        after = [_chat(b, "sk-anything"), _chat(b, None)]
    assert open_at_start == 200
    assert after == [401, 401]


def test_require_keys_shuts_a_gateway_that_has_no_tenant_yet(upstream_url: str) -> None:
    with running_gateway(_config(upstream_url), store=MemoryStore(), require_keys=True) as url:
        statuses = [_chat(url, "sk-anything"), _chat(url, None)]
    assert statuses == [401, 401]
