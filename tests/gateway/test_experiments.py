"""Experiments split a tenant's traffic by weight, sticky per user, over real HTTP."""

from __future__ import annotations

import hashlib
from collections import Counter
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from gateway.experiments import bucket, pick_arm
from gateway.tenants.models import Arm, Experiment
from gateway.tenants.sqlite_store import SqliteStore
from tests.gateway.tenants.test_tenant_policies import _small_model, config
from tests.support.gateway import ADMIN_KEY, admin, create_tenant, running_gateway
from tests.support.scripted_engine import ScriptedEngine

EXPERIMENT = {
    "name": "rollout",
    "arms": [
        {"name": "control", "weight": 50, "pipeline": []},
        {"name": "bpo", "weight": 30, "pipeline": ["bpo"]},
        {"name": "both", "weight": 20, "pipeline": ["bpo", "aligner"]},
    ],
}


def _post(url: str, key: str, user: str | None = None, **headers: str) -> httpx.Response:
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "Explain tides"}]}
    if user is not None:
        body["user"] = user
    return httpx.post(
        f"{url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}", **headers},
        timeout=30,
    )


def _start_experiment(url: str, **policy: object) -> str:
    key = create_tenant(
        url, "acme", experiments={"rollout": EXPERIMENT}, policy={"experiment": "rollout", **policy}
    )
    return key


def test_weights_are_honoured_and_each_user_keeps_their_arm(upstream_url: str) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = _start_experiment(url)
        first = {f"user-{i}": _post(url, key, f"user-{i}") for i in range(300)}
        again = {u: _post(url, key, u).headers["x-aligngate-arm"] for u in list(first)[:40]}
    arms = {user: r.headers["x-aligngate-arm"] for user, r in first.items()}
    shares = {arm: n / len(arms) for arm, n in Counter(arms.values()).items()}
    # 300 users: a binomial share's standard error is at most ~2.9 points; allow 3 of them.
    assert shares["control"] == pytest.approx(0.5, abs=0.09)
    assert shares["bpo"] == pytest.approx(0.3, abs=0.08)
    assert shares["both"] == pytest.approx(0.2, abs=0.07)
    assert all(again[user] == arms[user] for user in again)
    stages = {arms[u]: r.headers.get("x-aligngate-stages") for u, r in first.items()}
    assert stages == {
        "control": None,
        "bpo": "bpo=rewritten",
        "both": "bpo=rewritten;aligner=corrected",
    }


def test_the_user_header_works_as_the_unit_too(upstream_url: str) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = _start_experiment(url)
        arms = {
            _post(url, key, **{"x-aligngate-user": "u-77"}).headers["x-aligngate-arm"]
            for _ in range(8)
        }
    assert len(arms) == 1


def test_a_forced_arm_is_honoured_only_when_the_policy_allows_it(upstream_url: str) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = _start_experiment(url)
        ignored = {
            _post(url, key, f"u{i}", **{"x-aligngate-force-arm": "both"}).headers["x-aligngate-arm"]
            for i in range(30)
        }
        with admin(url) as http:
            http.put(
                "/tenants/acme/policy", json={"experiment": "rollout", "allow_force_arm": True}
            ).raise_for_status()
        forced = {
            _post(url, key, f"u{i}", **{"x-aligngate-force-arm": "both"}).headers["x-aligngate-arm"]
            for i in range(10)
        }
        unknown = _post(url, key, "u1", **{"x-aligngate-force-arm": "nope"})
    assert len(ignored) > 1
    assert forced == {"both"}
    assert unknown.status_code == 400


def test_assignment_is_a_stable_function_of_secret_tenant_experiment_and_user() -> None:
    assert bucket(b"s", "acme", "rollout", "u1") == bucket(b"s", "acme", "rollout", "u1")
    assert bucket(b"s", "acme", "rollout", "u1") != bucket(b"s", "bank", "rollout", "u1")
    assert bucket(b"s", "acme", "rollout", "u1") != bucket(b"t", "acme", "rollout", "u1")
    experiment = Experiment(
        name="x", arms=[Arm(name="a", weight=1), Arm(name="off", weight=0), Arm(name="b", weight=3)]
    )
    assert pick_arm(experiment, 0.0).name == "a"
    assert pick_arm(experiment, 0.2499).name == "a"
    assert pick_arm(experiment, 0.25).name == "b"
    assert pick_arm(experiment, 0.9999999).name == "b"


USERS = [f"user-{i}" for i in range(120)]


def _arms(url: str, key: str, users: list[str]) -> dict[str, str]:
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "Explain tides"}]}
    with httpx.Client(headers={"authorization": f"Bearer {key}"}, timeout=30) as http:
        return {
            user: http.post(f"{url}/v1/chat/completions", json={**body, "user": user}).headers[
                "x-aligngate-arm"
            ]
            for user in users
        }


def _public_formula(user: str) -> str:
    """The arm the unkeyed hash of tenant, experiment and user gave: what a client can compute."""
    digest = hashlib.sha256(f"acme\x00rollout\x00{user}".encode()).digest()
    return pick_arm(Experiment.model_validate(EXPERIMENT), int.from_bytes(digest[:8]) / 2**64).name


def _agreement(a: dict[str, str], b: dict[str, str]) -> float:
    return sum(a[user] == b[user] for user in a) / len(a)


# Two independent assignments to arms of 50/30/20 agree on 0.5² + 0.3² + 0.2² = 38% of
# users; over 120 users the standard error is about 4.5 points.
CHANCE = 0.38


def test_deployments_with_different_secrets_assign_users_differently(upstream_url: str) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    arms = []
    for secret in ("secret-of-deployment-a", "secret-of-deployment-b"):
        with running_gateway(
            config(upstream_url),
            {"small": engine},
            admin_key=ADMIN_KEY,
            assignment_secret=secret,
        ) as url:
            arms.append(_arms(url, _start_experiment(url), USERS))
    assert _agreement(arms[0], arms[1]) < CHANCE + 0.2


def test_a_client_cannot_compute_its_arm_without_the_secret(upstream_url: str) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        served = _arms(url, _start_experiment(url), USERS)
    predicted = {user: _public_formula(user) for user in USERS}
    assert _agreement(served, predicted) < CHANCE + 0.2


def test_replicas_on_one_store_agree_without_a_configured_secret(
    tmp_path: Path, upstream_url: str
) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    path, users = tmp_path / "state.db", USERS[:60]

    def replica() -> AbstractContextManager[str]:
        return running_gateway(
            config(upstream_url), {"small": engine}, store=SqliteStore(path), admin_key=ADMIN_KEY
        )

    with replica() as a, replica() as b:
        key = _start_experiment(a)
        on_a, on_b = _arms(a, key, users), _arms(b, key, users)
    with replica() as restarted:
        after_restart = _arms(restarted, key, users)
    assert on_a == on_b == after_restart
    assert len(set(on_a.values())) == 3
