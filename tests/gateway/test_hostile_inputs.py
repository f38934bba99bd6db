"""The red team's own hostile inputs (issue 14) get no 5xx, each against a fresh gateway.

The generators of test_fuzzing.py explore; these are the inputs that were seen to
break the gateway, kept as fixed cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from gateway.app import create_app
from gateway.config import GatewayConfig, upstream_config
from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.tenants.keys import hash_key
from gateway.tenants.sqlite_store import SqliteStore
from tests.support.answers import assert_no_crash, assert_openai_error_shape
from tests.support.gateway import ADMIN_KEY, upstream_route
from tests.support.servers import serve_in_thread
from tests.support.upstream import UpstreamScript, create_upstream

MODEL = "upstream-model"
VICTIM_TENANT = "victim"
VICTIM_KEY = "sk-hostile-victim-0123456789"


@contextmanager
def _hostile_target(tmp_path: Path, quick: bool) -> Iterator[str]:
    """A gateway on SQLite in quick mode (open, client key forwarded) or with a tenant."""
    with serve_in_thread(create_upstream(UpstreamScript(keep_requests=False))) as upstream:
        if quick:
            config = upstream_config(f"{upstream}/v1", None)
        else:
            config = GatewayConfig.model_validate(
                {
                    "models": [upstream_route(MODEL, f"{upstream}/v1")],
                    "tenants": [{"name": VICTIM_TENANT, "api_key_sha256": [hash_key(VICTIM_KEY)]}],
                }
            )
        settings = GatewaySettings(admin_key=SecretStr(ADMIN_KEY))
        store = SqliteStore(tmp_path / "state.db")
        with serve_in_thread(create_app(Services(settings, config, {}, store=store))) as url:
            yield url


def _chat_with_content(
    url: str, content_json: bytes, key: bytes = VICTIM_KEY.encode()
) -> httpx.Response:
    body = b'{"model": "%s", "messages": [{"role": "user", "content": %s}]}' % (
        MODEL.encode(),
        content_json,
    )
    headers = {"authorization": b"Bearer " + key, "content-type": b"application/json"}
    return httpx.post(f"{url}/v1/chat/completions", content=body, headers=headers, timeout=30)


def _bad_experiment_name_then_reads(url: str) -> list[httpx.Response]:
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    body = {"name": "x", "arms": [{"name": "a", "weight": 1, "pipeline": []}]}
    path = f"/admin/tenants/{VICTIM_TENANT}/experiments/bad%20name%21"
    return [
        httpx.put(f"{url}{path}", headers=admin, json=body, timeout=30),
        httpx.get(f"{url}/admin/tenants", headers=admin, timeout=30),
        _chat_with_content(url, b'"Hi"'),
    ]


@pytest.mark.parametrize(
    ("quick", "send"),
    [
        pytest.param(
            False,
            lambda url: [_chat_with_content(url, b'"\\ud800"')],
            id="lone-surrogate",
        ),
        pytest.param(
            True,
            lambda url: [
                _chat_with_content(url, b'"Hi"', key="sk-\u00e9t\u00e9".encode("latin-1"))
            ],
            id="non-ascii-bearer-quick-mode",
        ),
        pytest.param(False, _bad_experiment_name_then_reads, id="bad-experiment-url-name"),
        pytest.param(
            False, lambda url: [_chat_with_content(url, b'"\\u0000\\u001f"')], id="nul-and-controls"
        ),
        pytest.param(False, lambda url: [_chat_with_content(url, b"1e999")], id="infinite-number"),
        pytest.param(
            False,
            lambda url: [_chat_with_content(url, b"[" * 5000 + b"]" * 5000)],
            id="deep-nesting",
        ),
    ],
)
def test_the_red_team_inputs_get_no_5xx(
    tmp_path: Path, quick: bool, send: Callable[[str], list[httpx.Response]]
) -> None:
    with _hostile_target(tmp_path, quick) as url:
        for response in send(url):
            assert_no_crash(response, f"{response.request.method} {response.request.url}")
            if response.status_code >= 400:
                assert_openai_error_shape(
                    response.status_code, response.text, str(response.request.url)
                )
