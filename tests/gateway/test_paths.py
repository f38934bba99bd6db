"""Only canonical paths are routed, and the upstream URL is always the configured base.

A fail-closed tenant whose Aligner stage is down (a real loopback engine answering
500) sits in front of a loopback upstream that answers every path, even unknown ones,
with a marker text; a second loopback "sink" server stands for every host nobody
configured. Requests go out as raw request lines, so exotic spellings reach the
gateway byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.engines.config import RemoteEngineConfig
from gateway.engines.registry import build_engine
from gateway.tenants.keys import hash_key
from tests.support.gateway import running_gateway, upstream_route
from tests.support.servers import serve_in_thread
from tests.support.sink import Recording, Seen, raw_request, sink
from tests.support.upstream import UpstreamScript, create_upstream

MARKER = "UNALIGNED-MARKER-7f3a"
TENANT_KEY = "sk-closed-tenant-0123456789"
UPSTREAM_KEY = "sk-configured-upstream-key"
MODEL = "gpt-test"


@dataclass
class Perimeter:
    """The servers of one test module and what each of them received."""

    gateway: str
    sink: str
    upstream: Seen
    sunk: Seen


def _marker_upstream(script: UpstreamScript) -> FastAPI:
    """The test upstream, plus a catch-all so any stray path answers with the marker."""
    app = create_upstream(script)

    @app.post("/v1/moderations")
    async def moderations() -> dict[str, Any]:
        return {"id": "modr-1", "results": [{"flagged": False}]}

    @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def anything(rest: str, request: Request) -> JSONResponse:
        return JSONResponse({"object": "stray", "text": MARKER, "output_text": MARKER})

    return app


def _broken_engine() -> FastAPI:
    app = FastAPI()

    @app.api_route("/{rest:path}", methods=["GET", "POST"])
    async def broken(rest: str) -> JSONResponse:
        return JSONResponse({"error": {"message": "engine down"}}, status_code=500)

    return app


def _config(upstream_v1: str, engine_v1: str) -> dict[str, Any]:
    backend = {"api_key_env": "PATHS_UPSTREAM_KEY"}
    return {
        "engines": {"small": {"kind": "remote", "api_base": engine_v1, "model": "m"}},
        "models": [upstream_route(MODEL, upstream_v1, **backend)],
        "default_backend": {
            "kind": "openai",
            "model": "*",
            "api_base": upstream_v1,
            **backend,
        },
        "stages": {"aligner": {"kind": "aligner", "engine": "small", "timeout_s": 5}},
        "pipeline": ["aligner"],
        "tenants": [
            {
                "name": "closed",
                "api_key_sha256": [hash_key(TENANT_KEY)],
                "policy": {"on_failure": "closed"},
            }
        ],
    }


@pytest.fixture(scope="module")
def perimeter() -> Iterator[Perimeter]:
    """Gateway, marker upstream, broken stage engine and sink, served once per module."""
    upstream_seen, sunk = Seen(), Seen()
    script = UpstreamScript(reply=f"{MARKER} original answer", keep_requests=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATHS_UPSTREAM_KEY", UPSTREAM_KEY)
        with (
            serve_in_thread(Recording(_marker_upstream(script), upstream_seen)) as upstream,
            serve_in_thread(_broken_engine()) as engine,
            serve_in_thread(sink(sunk)) as sink_url,
        ):
            config = _config(f"{upstream}/v1", f"{engine}/v1")
            small = build_engine(RemoteEngineConfig(api_base=f"{engine}/v1", model="m"))
            with running_gateway(config, {"small": small}) as url:
                yield Perimeter(gateway=url, sink=sink_url, upstream=upstream_seen, sunk=sunk)


def _send(perimeter: Perimeter, method: str, target: str, payload: Any = None) -> Any:
    body = json.dumps(payload).encode() if payload is not None else b""
    headers = {"authorization": f"Bearer {TENANT_KEY}"}
    if payload is not None:
        headers["content-type"] = "application/json"
    return raw_request(
        perimeter.gateway, method, target.encode("latin-1"), body=body, headers=headers
    )


CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
EVERYTHING = {**CHAT, "prompt": "Say", "input": "Say"}


# --- item 1: the catch-all never reaches a host other than the configured upstream ---


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize(
    "spelling",
    [
        "/v1/http:%2F%2F{sink}%2Fsteal",
        "/v1/http://{sink}/steal",
        "/v1/http:/{sink}/steal",
        "/v1//{sink}/steal",
        "/v1/%2F%2F{sink}%2Fsteal",
        "/v1/%5C%5C{sink}%5Csteal",
        "/v1/\\\\{sink}\\steal",
        "/v1/HTTP:%2f%2f{sink}%2fsteal",
    ],
)
def test_a_path_naming_another_host_never_reaches_it(
    perimeter: Perimeter, method: str, spelling: str
) -> None:
    host = perimeter.sink.removeprefix("http://")
    before = len(perimeter.upstream.requests)
    response = _send(perimeter, method, spelling.format(sink=host), EVERYTHING)
    assert perimeter.sunk.requests == []
    assert response.status in (400, 404)
    assert json.loads(response.body)["error"]["type"] == "invalid_request_error"
    assert len(perimeter.upstream.requests) == before


@pytest.mark.parametrize(
    "spelling",
    [
        "/v1/../x",
        "/v1/../../admin/tenants",
        "/v1/%2e%2e/x",
        "/v1/embeddings/../../x",
        "/v1/./models",
    ],
)
def test_dot_segments_never_escape_the_upstreams_prefix(
    perimeter: Perimeter, spelling: str
) -> None:
    before = len(perimeter.upstream.requests)
    response = _send(perimeter, "POST", spelling, EVERYTHING)
    assert response.status == 400
    assert json.loads(response.body)["error"]["code"] == "invalid_path"
    assert len(perimeter.upstream.requests) == before


# --- item 2: a non-canonical spelling of chat never skips the stages ---


@pytest.mark.parametrize(
    "spelling",
    [
        "/v1//chat/completions",
        "/v1/./chat/completions",
        "/v1/%2Fchat/completions",
        "/v1/chat//completions",
        "/v1/chat/./completions",
        "/v1/chat%2Fcompletions",
        "/v1/chat/completions/",
        "/v1/x/../chat/completions",
        "/v1\\chat\\completions",
        "//v1/chat/completions",
    ],
)
def test_non_canonical_chat_paths_are_refused_not_forwarded(
    perimeter: Perimeter, spelling: str
) -> None:
    before = len(perimeter.upstream.requests)
    response = _send(perimeter, "POST", spelling, CHAT)
    assert MARKER not in response.text
    assert response.status in (400, 404)
    assert len(perimeter.upstream.requests) == before


def test_an_sdk_base_url_ending_in_a_double_slash_gets_an_error_not_the_original(
    perimeter: Perimeter,
) -> None:
    sdk = openai.OpenAI(
        base_url=f"{perimeter.gateway}/v1//", api_key=TENANT_KEY, max_retries=0, timeout=30
    )
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert MARKER not in str(caught.value.body)
    assert caught.value.code == "invalid_path"


def test_the_canonical_chat_path_still_runs_the_stages(perimeter: Perimeter) -> None:
    response = httpx.post(
        f"{perimeter.gateway}/v1/chat/completions",
        json=CHAT,
        headers={"authorization": f"Bearer {TENANT_KEY}"},
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "stage_failed"
    assert MARKER not in response.text


# --- the path-form fuzz test ---

_ROUTES = [
    ["chat", "completions"],
    ["completions"],
    ["responses"],
    ["embeddings"],
    ["moderations"],
    ["models"],
    ["chat", "completions", "chatcmpl-1"],
    ["responses", "resp_1"],
    ["files"],
    ["threads", "t1", "runs"],
]
_SEPARATORS = ["/", "/", "/", "//", "/./", "/x/../", "%2F", "%2f", "%5C", "\\", "/%2e/"]
_PREFIXES = [
    "/v1/",
    "/v1/",
    "/v1//",
    "/v1/./",
    "//v1/",
    "/v1%2F",
    "/v1/x/../",
    "/V1/",
    "http://{sink}/v1/",
    "/v1/http:%2F%2F{sink}%2Fv1%2F",
    "/v1/http://{sink}/v1/",
    "/v1//{sink}/v1/",
    "/v1/\\\\{sink}\\v1\\",
    "/v1/@{sink}/v1/",
    "/v1/..%2F",
]
_SUFFIXES = ["", "", "", "/", "/.", "?stream=true", "?api_key=sk-x", "#frag", "%3Fx", ";x"]


@st.composite
def _spellings(draw: st.DrawFn) -> str:
    """One spelling of a route: prefix, segments joined by a separator each, suffix."""
    segments = draw(st.sampled_from(_ROUTES))
    words = [_mangle(draw, segment) for segment in segments]
    path = draw(st.sampled_from(_PREFIXES)) + words[0]
    for word in words[1:]:
        path += draw(st.sampled_from(_SEPARATORS)) + word
    return path + draw(st.sampled_from(_SUFFIXES))


def _mangle(draw: st.DrawFn, segment: str) -> str:
    out = ""
    for char in segment:
        choice = draw(st.sampled_from(["keep"] * 6 + ["upper", "encode", "encode-upper"]))
        if choice == "upper":
            out += char.upper()
        elif choice == "encode":
            out += f"%{ord(char):02x}"
        elif choice == "encode-upper":
            out += f"%{ord(char):02X}"
        else:
            out += char
    return out


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(
    spelling=_spellings(),
    method=st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE"]),
    stream=st.booleans(),
)
def test_no_spelling_of_a_path_returns_unaligned_text_or_reaches_another_host(
    perimeter: Perimeter, spelling: str, method: str, stream: bool
) -> None:
    target = spelling.format(sink=perimeter.sink.removeprefix("http://"))
    response = _send(perimeter, method, target, {**EVERYTHING, "stream": stream})
    assert MARKER not in response.text, (target, response.status, response.text[:300])
    assert perimeter.sunk.requests == [], target
    assert response.status < 500 or json.loads(response.body)["error"]["code"] == "stage_failed"
