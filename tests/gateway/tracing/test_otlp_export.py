"""A gateway process exporting its spans over OTLP/HTTP to a receiver written here, and a
quick-mode start-up that never imports OpenTelemetry."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from fastapi import FastAPI, Request, Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.gateway import client, upstream_route
from tests.support.processes import ROOT, aligngate, running_process
from tests.support.servers import free_port, serve_in_thread
from tests.support.upstream import UpstreamScript


@dataclass
class Received:
    """What the receiver was sent: each span's name, trace id and service name."""

    spans: list[tuple[str, str, str]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)

    def wait_for(self, name: str, timeout_s: float = 20.0) -> tuple[str, str, str]:
        """The first span called ``name``, once it has arrived."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for span in self.spans:
                if span[0] == name:
                    return span
            time.sleep(0.05)
        raise AssertionError(f"no span {name!r} received; got {self.spans}")


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, Received]]:
    """A loopback OTLP/HTTP traces endpoint decoding protobuf with opentelemetry-proto."""
    received = Received()
    app = FastAPI()

    @app.post("/v1/traces")
    async def traces(request: Request) -> Response:
        received.content_types.append(request.headers.get("content-type", ""))
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        for resource_spans in export.resource_spans:
            service = next(
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.spans.append((span.name, span.trace_id.hex(), service))
        body = ExportTraceServiceResponse().SerializeToString()
        return Response(body, media_type="application/x-protobuf")

    with serve_in_thread(app) as url:
        yield url, received


# Export within 0.1 s instead of the SDK's default 5 s, so the test need not wait.
_FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100", "ALIGNGATE_STORE": "memory"}


def test_a_configured_gateway_exports_its_spans_over_otlp(
    upstream: UpstreamScript, upstream_url: str, tmp_path: Path
) -> None:
    with otlp_receiver() as (receiver_url, received):
        config = {
            "models": [upstream_route("gpt-test", upstream_url)],
            "tracing": {"enabled": True, "otlp_endpoint": receiver_url, "service_name": "gw-test"},
        }
        path = tmp_path / "gateway.yaml"
        path.write_text(yaml.safe_dump(config))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = aligngate("serve", "--config", str(path), "--port", str(port))
        with running_process(command, f"{base}/healthz", env=_FAST_EXPORT):
            client(base).chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
            )
            name, trace_id, service = received.wait_for("chat gpt-test")
            received.wait_for("chat upstream-model")
    assert service == "gw-test"
    assert received.content_types[0] == "application/x-protobuf"
    # The upstream was told the same trace the collector got.
    assert upstream.request_headers[0]["traceparent"].split("-")[1] == trace_id


def test_quick_mode_exports_when_the_standard_variables_say_so(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    with otlp_receiver() as (receiver_url, received):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **_FAST_EXPORT,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url,
            "OTEL_SERVICE_NAME": "quick-gw",
        }
        command = aligngate("serve", "--upstream", upstream_url, "--port", str(port))
        with running_process(command, f"{base}/healthz", env=env):
            client(base).chat.completions.create(
                model="any-model", messages=[{"role": "user", "content": "Hi"}]
            )
            _, trace_id, service = received.wait_for("chat any-model")
    assert service == "quick-gw"
    assert upstream.request_headers[0]["traceparent"].split("-")[1] == trace_id


# Builds the quick-mode app as `aligngate serve --upstream` does, and serves one request.
_QUICK_START = """
import sys
from fastapi.testclient import TestClient
from gateway.settings import GatewaySettings
from gateway.startup import build_gateway
app = build_gateway(GatewaySettings(upstream="http://127.0.0.1:9/v1", store="memory"))
with TestClient(app) as http:
    message = {"role": "user", "content": "x"}
    http.post("/v1/chat/completions", json={"model": "m", "messages": [message]})
# FastAPI itself depends on and imports opentelemetry-api; the SDK, the exporter and
# the gateway's own OpenTelemetry module are what tracing would add.
heavy = ("opentelemetry.sdk", "opentelemetry.exporter", "gateway.tracing.otel")
loaded = sorted(m for m in sys.modules if m.startswith(heavy))
print("loaded:", loaded)
assert not loaded, loaded
"""


def test_quick_mode_without_tracing_never_imports_opentelemetry() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", _QUICK_START],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "loaded: []" in done.stdout
