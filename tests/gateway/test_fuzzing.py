"""Hostile input never breaks the gateway: no 5xx and no traceback, whatever a client sends.

Two generators drive a real gateway (in-process, over HTTP) in front of a working
loopback upstream, so an upstream outage can never be mistaken for a gateway bug:
schemathesis walks every operation of the gateway's own OpenAPI schema, both
schema-conforming and schema-violating requests (the admin API with the admin key,
the public API with a tenant's key, and now and then a wrong key or none), and
hypothesis throws arbitrary JSON at ``POST /v1/chat/completions``. Every 4xx must be
OpenAI's error JSON, and no admin write may leave the gateway answering 5xx later.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.tenants.keys import hash_key
from gateway.tenants.sqlite_store import SqliteStore
from tests.support.answers import assert_no_crash, assert_openai_error_shape
from tests.support.gateway import ADMIN_KEY, upstream_route
from tests.support.servers import serve_in_thread
from tests.support.upstream import UpstreamScript, create_upstream

# A seeded tenant's key: with an admin key set, fuzzed admin calls may create tenants,
# which ends open mode; a key of our own keeps the /v1 routes reachable past auth.
CALLER_KEY = "sk-fuzz-caller-0123456789"
CALLER_TENANT = "fuzz-caller-tenant"
# The tenant that admin calls aim at: random names only ever reach a 404, so half of
# the generated admin paths name this one, and its requests must keep working after.
VICTIM_KEY = "sk-fuzz-victim-0123456789"
VICTIM_TENANT = "fuzz-victim"
MODEL = "upstream-model"
WRONG_KEY = "sk-not-a-key-of-anyone"

# Bounded so the whole module stays under a minute on a shared 2-core machine.
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
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway with a named model, a catch-all backend, seeded tenants and the admin API.

    The tenants live in SQLite, the default store, which reads every tenant back
    through validation: what an admin call stored must survive that read.
    """
    store = SqliteStore(tmp_path_factory.mktemp("fuzz") / "state.db")
    with serve_in_thread(create_upstream(UpstreamScript(keep_requests=False))) as upstream:
        upstream_v1 = f"{upstream}/v1"
        config = GatewayConfig.model_validate(
            {
                "models": [upstream_route(MODEL, upstream_v1)],
                "default_backend": {
                    "kind": "openai",
                    "model": "*",
                    "api_base": upstream_v1,
                    "forward_client_key": True,
                },
                "tenants": [
                    {"name": CALLER_TENANT, "api_key_sha256": [hash_key(CALLER_KEY)]},
                    {"name": VICTIM_TENANT, "api_key_sha256": [hash_key(VICTIM_KEY)]},
                ],
            }
        )
        settings = GatewaySettings(admin_key=SecretStr(ADMIN_KEY))
        app = create_app(Services(settings, config, {}, store=store))
        with serve_in_thread(app) as url:
            yield url


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Half the generated tenant names are the victim's, so admin writes really land."""
    if not isinstance(path_parameters, dict) or "name" not in path_parameters:
        return st.just(path_parameters)
    operation = context.operation
    if operation is not None and (operation.method.upper(), operation.path) == (
        "DELETE",
        "/admin/tenants/{name}",
    ):
        return st.just(path_parameters)  # deleting the victim would end the rest early
    return st.sampled_from([path_parameters, {**path_parameters, "name": VICTIM_TENANT}])


# The gateway's name rule is a validator, not a schema pattern, so generated names
# almost never pass it and admin writes would almost never land; half the admin
# bodies get valid names throughout (the URL's names stay as generated).
_valid_names = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,15}", fullmatch=True)


def _with_valid_names(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, dict):
        return st.fixed_dictionaries(
            {
                key: _valid_names
                if key == "name" and isinstance(item, str)
                else _with_valid_names(item)
                for key, item in value.items()
            }
        )
    if isinstance(value, list):
        return st.tuples(*map(_with_valid_names, value)).map(list)
    return st.just(value)


@schema.hook
def flatmap_case(
    context: schemathesis.HookContext, case: schemathesis.Case[Any]
) -> st.SearchStrategy[schemathesis.Case[Any]]:
    """The generated case, or one whose admin body has valid names (a tenant's its URL's)."""
    if not case.path.startswith("/admin") or not isinstance(case.body, dict):
        return st.just(case)

    def adopt(body: dict[str, Any]) -> schemathesis.Case[Any]:
        url_name = (case.path_parameters or {}).get("name")
        if case.path == "/admin/tenants/{name}" and "name" in body and url_name is not None:
            body = {**body, "name": url_name}  # the route insists they match
        case.body = body  # each draw builds a fresh case, so this one is ours
        return case

    return st.one_of(st.just(case), _with_valid_names(case.body).map(adopt))


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One keep-alive session for the generated requests (schemathesis sends via requests)."""
    with requests.Session() as http:
        yield http


# Mostly the right key for the operation; sometimes a wrong key, or none at all.
_keys = st.sampled_from(["right", "right", "right", "wrong", "none"])


@schema.parametrize()
@schema.given(key=_keys)
@_bounded(SCHEMA_EXAMPLES)
def test_no_generated_request_to_any_operation_gets_a_5xx_or_a_traceback(
    case: schemathesis.Case[Any],
    key: str,
    gateway_url: str,
    session: requests.Session,
    caller: httpx.Client,
) -> None:
    right = ADMIN_KEY if case.path.startswith("/admin") else CALLER_KEY
    token = {"right": right, "wrong": WRONG_KEY, "none": None}[key]
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    response = case.call(base_url=gateway_url, session=session, headers=headers, timeout=30)
    reproduce = case.as_curl_command(headers=headers, base_url=gateway_url)
    assert_no_crash(response, reproduce)
    if response.status_code >= 400 and not _relayed_from_upstream(case.path):
        assert_openai_error_shape(response.status_code, response.text, reproduce)
    if _stored_an_admin_change(case, response.status_code):
        _assert_the_gateway_still_serves(caller, reproduce)


def _relayed_from_upstream(path: str) -> bool:
    # The catch-all passthrough relays the upstream's own answer, errors included.
    return path.startswith("/v1/{")


def _stored_an_admin_change(case: schemathesis.Case[Any], status: int) -> bool:
    return case.path.startswith("/admin") and case.method.upper() != "GET" and status < 300


def _assert_the_gateway_still_serves(caller: httpx.Client, after: str) -> None:
    """An admin write may change a tenant, never break what reads it later."""
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    checks = [
        caller.get("/admin/tenants", headers=admin),
        caller.get(f"/admin/tenants/{VICTIM_TENANT}", headers=admin),
        caller.post(
            "/v1/chat/completions", headers={"authorization": f"Bearer {VICTIM_KEY}"}, json=_VALID
        ),
    ]
    for response in checks:
        assert_no_crash(
            response, f"{response.request.method} {response.request.url} after:\n{after}"
        )


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
    # Python's json writes NaN and Infinity, as some clients do; the gateway must cope.
    # (st.text() draws no lone surrogates; test_hostile_inputs.py sends them.)
    content = json.dumps(body, allow_nan=True, ensure_ascii=escaped)
    response = caller.post("/v1/chat/completions", content=content.encode("utf-8", "surrogatepass"))
    assert_no_crash(response, content[:2000])
    if response.status_code >= 400:
        assert_openai_error_shape(response.status_code, response.text, content[:2000])
