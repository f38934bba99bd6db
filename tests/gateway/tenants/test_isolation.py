"""A tenant's key reaches neither the admin API nor another tenant's data."""

from __future__ import annotations

import httpx

from tests.support.gateway import ADMIN_KEY, admin, create_tenant, running_gateway, upstream_route


def test_a_tenant_key_cannot_reach_the_admin_api(upstream_url: str) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, admin_key=ADMIN_KEY) as url:
        key_a = create_tenant(url, "acme")
        create_tenant(url, "bank")
        with admin(url, key=key_a) as http:
            own = http.get("/tenants/acme")
            other = http.get("/tenants/bank")
            change = http.put("/tenants/bank/policy", json={"pipeline": []})
            listing = http.get("/tenants")
    for response in (own, other, change, listing):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert "bank" not in response.text


def test_a_wrong_admin_key_gets_401_and_the_right_one_works(upstream_url: str) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, admin_key=ADMIN_KEY) as url:
        wrong = httpx.get(f"{url}/admin/tenants", headers={"authorization": "Bearer nope"})
        missing = httpx.get(f"{url}/admin/tenants")
        with admin(url) as http:
            right = http.get("/tenants")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_admin_key"
    assert missing.status_code == 401
    assert right.status_code == 200


def test_the_admin_api_is_off_without_an_admin_key(upstream_url: str) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config) as url:
        response = httpx.get(f"{url}/admin/tenants", headers={"authorization": "Bearer x"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "admin_disabled"


def test_key_listings_never_show_a_key_or_its_digest(upstream_url: str) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme")
        with admin(url) as http:
            listing = http.get("/tenants/acme/keys").text
            tenant = http.get("/tenants/acme").text
    assert key not in listing and key not in tenant
    assert "sha256" not in listing


def test_admin_rejects_policies_naming_unknown_stages(upstream_url: str) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, admin_key=ADMIN_KEY) as url:
        with admin(url) as http:
            response = http.post(
                "/tenants", json={"name": "acme", "policy": {"pipeline": ["nope"]}}
            )
            duplicate = [http.post("/tenants", json={"name": "bank"}) for _ in range(2)][1]
    assert response.status_code == 400
    assert "nope" in response.json()["error"]["message"]
    assert duplicate.status_code == 409
