"""The admin API over real HTTP: names in URLs are validated, and no write is lost."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from gateway.tenants.memory_store import MemoryStore
from gateway.tenants.redis_store import RedisStore
from gateway.tenants.sqlite_store import SqliteStore
from gateway.tenants.store import TenantStore
from tests.support.gateway import ADMIN_KEY, admin, create_tenant, running_gateway, upstream_route

EXPERIMENT = {"name": "x", "arms": [{"name": "control", "weight": 1}]}


def _config(upstream_url: str) -> dict[str, Any]:
    return {"models": [upstream_route("gpt-test", upstream_url)]}


def _chat(url: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]},
    )


def _assert_openai_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/tenants/acme/experiments/bad%20name%21"),
        ("PUT", "/tenants/acme/experiments/" + "e" * 65),
        ("DELETE", "/tenants/acme/experiments/x%3By"),
        ("PUT", "/tenants/acme%0A/limits"),
        ("GET", "/tenants/bad%20name%21"),
        ("PUT", "/tenants/acme%00/policy"),
        ("DELETE", "/tenants/-acme"),
        ("POST", "/tenants/%C3%A9/keys"),
        ("DELETE", "/tenants/acme/keys/bad%20id%21"),
    ],
)
def test_a_name_in_the_url_is_validated_like_a_name_in_the_body(
    tmp_path: Path, upstream_url: str, method: str, path: str
) -> None:
    store = SqliteStore(tmp_path / "state.db")
    with running_gateway(_config(upstream_url), store=store, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme")
        with admin(url) as http:
            body = EXPERIMENT if "experiments" in path else {}
            refused = http.request(method, path, json=body)
            listed = http.get("/tenants")
        chat = _chat(url, key)
    _assert_openai_error(refused, 400)
    assert listed.status_code == 200 and [t["name"] for t in listed.json()] == ["acme"]
    assert listed.json()[0]["experiments"] == {}
    assert chat.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": "acme\n"},
        {"name": "acme", "experiments": {"bad name!": EXPERIMENT}},
        {"name": "acme", "experiments": {"x": {**EXPERIMENT, "name": "y"}}},
    ],
)
def test_a_name_in_the_body_obeys_the_same_rule(upstream_url: str, body: dict[str, Any]) -> None:
    with running_gateway(_config(upstream_url), admin_key=ADMIN_KEY) as url, admin(url) as http:
        refused = http.post("/tenants", json=body)
        listed = http.get("/tenants")
    _assert_openai_error(refused, 400)
    assert listed.json() == []


def test_an_unreadable_stored_tenant_neither_takes_the_list_down_nor_gets_a_500(
    tmp_path: Path, upstream_url: str
) -> None:
    # A record written before names in URLs were validated, as an older gateway left it.
    path = tmp_path / "state.db"
    with running_gateway(
        _config(upstream_url), store=SqliteStore(path), admin_key=ADMIN_KEY
    ) as url:
        key = create_tenant(url, "broken")
        create_tenant(url, "good")
        bad = '{"name": "broken", "experiments": {"bad name!": {"name": "bad name!", "arms": []}}}'
        with sqlite3.connect(path) as db:
            db.execute("UPDATE tenants SET doc = ? WHERE name = 'broken'", (bad,))
        with admin(url) as http, capture_logs() as logs:
            listed = http.get("/tenants")
            one = http.get("/tenants/broken")
            chat = _chat(url, key)
            repaired = http.put("/tenants/broken", json={"name": "broken"})
        after = _chat(url, key)
    assert listed.status_code == 200 and [t["name"] for t in listed.json()] == ["good"]
    assert any(e["event"] == "tenant_unreadable" and e["tenant"] == "broken" for e in logs)
    for refused in (one, chat):
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "tenant_unreadable"
        assert "Traceback" not in refused.text
    assert repaired.status_code == 200
    assert after.status_code == 200


@pytest.fixture(params=["memory", "sqlite", "redis"])
def replicas(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, upstream_url: str
) -> Iterator[list[str]]:
    """Gateways sharing one store: two replicas on SQLite and on Redis, one on memory."""
    kind = request.param

    def new_store() -> TenantStore:
        if kind == "sqlite":
            return SqliteStore(tmp_path / "state.db")
        if kind == "redis":
            return RedisStore(redis_url, prefix=f"test-{tmp_path.name}")
        return MemoryStore()

    with ExitStack() as stack:
        count = 1 if kind == "memory" else 2
        yield [
            stack.enter_context(
                running_gateway(_config(upstream_url), store=new_store(), admin_key=ADMIN_KEY)
            )
            for _ in range(count)
        ]


def _all_at_once(calls: list[tuple[str, str, str, dict[str, Any]]]) -> list[int]:
    """Send (base URL, method, path, body) calls together, released by one barrier."""
    barrier = threading.Barrier(len(calls))

    def send(call: tuple[str, str, str, dict[str, Any]]) -> int:
        url, method, path, body = call
        with admin(url) as http:
            http.get("/tenants/acme").raise_for_status()  # connect before the barrier
            barrier.wait()
            return http.request(method, path, json=body).status_code

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(send, calls))


def test_fifty_concurrent_experiment_writes_are_all_kept(replicas: list[str]) -> None:
    create_tenant(replicas[0], "acme")
    calls = [
        (
            replicas[i % len(replicas)],
            "PUT",
            f"/tenants/acme/experiments/e{i}",
            {**EXPERIMENT, "name": f"e{i}"},
        )
        for i in range(50)
    ]
    statuses = _all_at_once(calls)
    with admin(replicas[-1]) as http:
        stored = http.get("/tenants/acme").json()["experiments"]
    assert statuses == [200] * 50
    assert sorted(stored) == sorted(f"e{i}" for i in range(50))


def test_a_policy_and_a_limits_change_at_once_both_land(replicas: list[str]) -> None:
    create_tenant(replicas[0], "acme")
    kept = []
    for trial in range(10):
        with admin(replicas[0]) as http:
            http.put("/tenants/acme", json={"name": "acme"}).raise_for_status()
        statuses = _all_at_once(
            [
                (replicas[0], "PUT", "/tenants/acme/policy", {"log_content": True}),
                (replicas[-1], "PUT", "/tenants/acme/limits", {"max_messages": trial + 1}),
            ]
        )
        with admin(replicas[-1]) as http:
            tenant = http.get("/tenants/acme").json()
        assert statuses == [200, 200]
        kept.append(
            tenant["policy"]["log_content"] is True
            and tenant["limits"]["max_messages"] == trial + 1
        )
    assert kept == [True] * 10


def test_a_write_racing_a_delete_does_not_bring_the_tenant_back(replicas: list[str]) -> None:
    for trial in range(5):
        create_tenant(replicas[0], "acme")
        statuses = _all_at_once(
            [
                (replicas[0], "DELETE", "/tenants/acme", {}),
                (replicas[-1], "PUT", "/tenants/acme/policy", {"log_content": True}),
            ]
        )
        with admin(replicas[-1]) as http:
            after = http.get("/tenants/acme")
        assert statuses[0] == 204 and statuses[1] in (200, 404), (trial, statuses)
        assert after.status_code == 404, (trial, after.text)
