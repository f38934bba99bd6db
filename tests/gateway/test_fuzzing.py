"""Hostile input never breaks the gateway: no 5xx and no traceback, whatever a client sends.

Two generators drive a real gateway (in-process, over HTTP) in front of a working
loopback upstream, so an upstream outage can never be mistaken for a gateway bug:
schemathesis walks every operation of the gateway's own OpenAPI schema (the admin
API included, with the admin key), and hypothesis throws arbitrary JSON at
``POST /v1/chat/completions``, where every 4xx must be OpenAI's error JSON.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any, Protocol

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.tenants.keys import hash_key
from tests.support.gateway import ADMIN_KEY, upstream_route
from tests.support.servers import serve_in_thread
from tests.support.upstream import UpstreamScript, create_upstream

# A seeded tenant's key: with an admin key set, fuzzed admin calls may create tenants,
# which ends open mode; a key of our own keeps the /v1 routes reachable past auth.
CALLER_KEY = "sk-fuzz-caller-0123456789"
CALLER_TENANT = "fuzz-caller-tenant"
MODEL = "upstream-model"

# Bounded so the whole module stays well under a minute on a shared 2-core machine.
SCHEMA_EXAMPLES = 40
CHAT_EXAMPLES = 300


def _bounded(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,  # no .hypothesis/ directory in the work tree
        suppress_health_check=list(HealthCheck),
    )


def _gateway_openapi() -> dict[str, Any]:
    """The gateway's OpenAPI schema; its routes do not depend on the config, so none is needed."""
    app = create_app(Services(GatewaySettings(), GatewayConfig(), {}))
    with warnings.catch_warnings():
        # FastAPI warns that the catch-all /v1/{path} route's methods share one
        # operation id; harmless for clients, but pytest turns warnings into errors.
        warnings.simplefilter("ignore", UserWarning)
        return app.openapi()


# Loaded eagerly: schemathesis' lazy `from_fixture` loader fails on pytest 9 (it sets
# the removed `Function._nodeid`), and eager loading gives one test per operation.
schema = schemathesis.openapi.from_dict(_gateway_openapi())


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    """A gateway with a named model, a catch-all backend, a seeded tenant and the admin API."""
    with serve_in_thread(create_upstream(UpstreamScript(keep_requests=False))) as upstream:
        upstream_v1 = f"{upstream}/v1"
        config = GatewayConfig.model_validate(
            {
                "models": [upstream_route(MODEL, upstream_v1)],
                "default_backend": {
                    "kind": "litellm",
                    "model": "openai/*",
                    "api_base": upstream_v1,
                    "direct": True,
                    "forward_client_key": True,
                },
                "tenants": [{"name": CALLER_TENANT, "api_key_sha256": [hash_key(CALLER_KEY)]}],
            }
        )
        app = create_app(Services(GatewaySettings(admin_key=SecretStr(ADMIN_KEY)), config, {}))
        with serve_in_thread(app) as url:
            yield url


class _Answer(Protocol):
    """What both httpx's and schemathesis' responses offer."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...


def _assert_no_crash(response: _Answer, reproduce: str) -> None:
    text = response.text
    assert response.status_code < 500, f"{response.status_code} for:\n{reproduce}\n{text[:500]}"
    assert "Traceback" not in text and 'File "' not in text, f"traceback leaked for:\n{reproduce}"


@schema.parametrize()
@_bounded(SCHEMA_EXAMPLES)
def test_no_generated_request_to_any_operation_gets_a_5xx_or_a_traceback(
    case: schemathesis.Case[Any], gateway_url: str
) -> None:
    key = ADMIN_KEY if case.path.startswith("/admin") else CALLER_KEY
    response = case.call(
        base_url=gateway_url, headers={"authorization": f"Bearer {key}"}, timeout=30
    )
    _assert_no_crash(response, case.as_curl_command())


# Any JSON value, including the awkward ones: huge and non-finite numbers, lone
# surrogates and control characters, deep nesting.
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_FIELDS = [
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "user",
    "tools",
    "response_format",
]
_VALID: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
_messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant", "tool"]) | st.text(max_size=8)},
        optional={"content": _json, "tool_calls": _json, "name": _json},
    ),
    max_size=3,
)
# Mostly near-valid bodies with a few fields wrong, so requests get past the first
# check and reach deeper code; sometimes anything at all.
_chat_bodies = st.one_of(
    _json,
    st.builds(
        lambda changes, messages: {**_VALID, "messages": messages, **changes},
        st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=10), _json, max_size=4),
        _messages,
    ),
    st.builds(
        lambda changes: {**_VALID, **changes},
        st.dictionaries(st.sampled_from(_FIELDS), _json, min_size=1, max_size=3),
    ),
)


def _assert_openai_error_shape(response: httpx.Response) -> None:
    body = response.json()
    assert set(body) == {"error"}, response.text
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, response.text
    assert isinstance(error["message"], str) and isinstance(error["type"], str)
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)


@pytest.fixture(scope="module")
def caller(gateway_url: str) -> Iterator[httpx.Client]:
    """A keep-alive client holding the seeded tenant's key."""
    headers = {"authorization": f"Bearer {CALLER_KEY}", "content-type": "application/json"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=30) as http:
        yield http


@_bounded(CHAT_EXAMPLES)
@given(body=_chat_bodies, escaped=st.booleans())
def test_any_chat_body_gets_a_success_or_openais_error_json_never_a_5xx(
    caller: httpx.Client, body: Any, escaped: bool
) -> None:
    # Python's json writes NaN and Infinity, as some clients do; unescaped lone
    # surrogates become invalid UTF-8 bytes on the wire. The gateway must cope with both.
    content = json.dumps(body, allow_nan=True, ensure_ascii=escaped)
    response = caller.post("/v1/chat/completions", content=content.encode("utf-8", "surrogatepass"))
    _assert_no_crash(response, content[:2000])
    if response.status_code >= 400:
        _assert_openai_error_shape(response)
