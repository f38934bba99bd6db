"""A tenant's token limit holds for every token field a request sets."""

from __future__ import annotations

import httpx
import pytest

from tests.support.gateway import ADMIN_KEY, create_tenant, running_gateway, upstream_route


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_completion_tokens": 10, "max_tokens": 500}, "max_tokens"),
        ({"max_tokens": 10, "max_completion_tokens": 500}, "max_completion_tokens"),
        ({"max_completion_tokens": 500}, "max_completion_tokens"),
        ({"max_tokens": 500}, "max_tokens"),
    ],
)
def test_every_token_field_over_the_tenant_limit_is_refused(
    upstream_url: str, fields: dict[str, int], param: str
) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme", limits={"max_tokens": 50})
        response = httpx.post(
            f"{url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}], **fields},
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("limit_exceeded", param)


def test_token_fields_within_the_limit_pass(upstream_url: str) -> None:
    config = {"models": [upstream_route("gpt-test", upstream_url)]}
    with running_gateway(config, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme", limits={"max_tokens": 50})
        response = httpx.post(
            f"{url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={
                "model": "gpt-test",
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 50,
                "max_completion_tokens": 40,
            },
        )
    assert response.status_code == 200
