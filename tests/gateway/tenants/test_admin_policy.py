"""Changing a tenant's policy over the admin API: a merge patch, and a replace that says so.

A ``PUT .../policy`` used to replace the whole policy without a word, so an admin who
sent ``{"on_failure": "closed"}`` silently stopped the tenant's running experiment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import ADMIN_KEY, admin, running_gateway, upstream_route
from tests.support.scripted_engine import ScriptedEngine
from tests.support.upstream import UpstreamScript

ROLLOUT = {
    "name": "rollout",
    "arms": [
        {"name": "control", "weight": 50, "pipeline": []},
        {"name": "both", "weight": 50, "pipeline": ["bpo", "aligner"]},
    ],
}


def _config(upstream_url: str) -> dict[str, Any]:
    engine = {"kind": "remote", "api_base": "http://127.0.0.1:9/v1", "model": "m"}
    return {
        "engines": {"small": engine},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {
            "bpo": {"kind": "bpo", "engine": "small"},
            "aligner": {"kind": "aligner", "engine": "small"},
        },
    }


@pytest.fixture
def acme(upstream: UpstreamScript, upstream_url: str) -> Iterator[httpx.Client]:
    """An admin client of a gateway whose tenant acme runs the rollout experiment."""
    engines = {"small": ScriptedEngine([])}
    gateway = running_gateway(_config(upstream_url), engines, admin_key=ADMIN_KEY)
    with gateway as url, admin(url) as http:
        http.post("/tenants", json={"name": "acme"}).raise_for_status()
        http.put("/tenants/acme/experiments/rollout", json=ROLLOUT).raise_for_status()
        policy = {
            "experiment": "rollout",
            "pipeline": ["aligner"],
            "stages": {"aligner": {"timeout_s": 12, "on_failure": "closed"}},
        }
        http.put("/tenants/acme/policy", json=policy).raise_for_status()
        yield http


def _policy(http: httpx.Client) -> dict[str, Any]:
    policy: dict[str, Any] = http.get("/tenants/acme").json()["policy"]
    return policy


def test_a_patch_changes_the_fields_it_names_and_keeps_the_experiment(
    acme: httpx.Client,
) -> None:
    response = acme.patch("/tenants/acme/policy", json={"log_content": True})
    assert response.status_code == 200, response.text
    policy = _policy(acme)
    assert policy["log_content"] is True
    assert policy["experiment"] == "rollout"
    assert policy["pipeline"] == ["aligner"]
    assert policy["stages"]["aligner"]["timeout_s"] == 12


def test_a_patch_merges_a_stage_setting_field_by_field(acme: httpx.Client) -> None:
    body = {"stages": {"aligner": {"timeout_s": 30}, "bpo": {"mode": "shadow"}}}
    assert acme.patch("/tenants/acme/policy", json=body).status_code == 200
    stages = _policy(acme)["stages"]
    assert stages["aligner"]["timeout_s"] == 30
    assert stages["aligner"]["on_failure"] == "closed"
    assert stages["bpo"]["mode"] == "shadow"


def test_null_in_a_patch_removes_the_field(acme: httpx.Client) -> None:
    body = {"experiment": None, "stages": {"aligner": None}}
    assert acme.patch("/tenants/acme/policy", json=body).status_code == 200
    policy = _policy(acme)
    assert policy["experiment"] is None
    assert "aligner" not in policy["stages"]
    assert policy["pipeline"] == ["aligner"]


def test_a_patch_is_validated_like_the_whole_policy(acme: httpx.Client) -> None:
    before = _policy(acme)
    for body in ({"pipeline": ["nope"]}, {"experiment": "missing"}, {"on_falure": "open"}):
        response = acme.patch("/tenants/acme/policy", json=body)
        assert response.status_code == 400, (body, response.text)
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert _policy(acme) == before


def test_a_put_that_would_silently_stop_the_running_experiment_is_refused(
    acme: httpx.Client,
) -> None:
    response = acme.put("/tenants/acme/policy", json={"on_failure": "closed"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "experiment_would_stop"
    assert "PATCH" in error["message"]
    assert _policy(acme)["experiment"] == "rollout"


def test_a_put_replaces_the_policy_when_it_names_the_experiment_or_null(
    acme: httpx.Client,
) -> None:
    kept = acme.put("/tenants/acme/policy", json={"experiment": "rollout"})
    assert kept.status_code == 200, kept.text
    assert _policy(acme) | {"experiment": None} == {**_empty_policy(), "experiment": None}
    assert _policy(acme)["experiment"] == "rollout"
    stopped = acme.put("/tenants/acme/policy", json={"experiment": None, "log_content": True})
    assert stopped.status_code == 200, stopped.text
    assert _policy(acme) == {**_empty_policy(), "log_content": True}


def test_gate_at_the_policy_level_says_it_belongs_to_a_stage(acme: httpx.Client) -> None:
    response = acme.patch("/tenants/acme/policy", json={"gate": "gated"})
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "stages" in message and '"gate"' in message


def test_a_body_sent_without_a_json_content_type_gets_an_error_that_says_so(
    acme: httpx.Client,
) -> None:
    response = acme.patch(
        "/tenants/acme/policy",
        content=b'{"log_content": true}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400, response.text
    assert "content-type: application/json" in response.json()["error"]["message"]


def _empty_policy() -> dict[str, Any]:
    return {
        "pipeline": None,
        "stages": {},
        "on_failure": None,
        "experiment": None,
        "allow_force_arm": False,
        "log_content": False,
        "passthrough": None,
    }
