"""The gateway's spans are its own: the web framework adds none beside them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Run in a child process: a global tracer provider can be set once per process, and
# this one must not reach the other tests.
SCRIPT = textwrap.dedent(
    """
    import httpx
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    # What auto-instrumentation (opentelemetry-instrument) does: a global provider.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    from tests.support.gateway import running_gateway, upstream_route

    config = {"models": [upstream_route("m", "http://127.0.0.1:9/v1")]}
    with running_gateway(config) as url:
        for path in ("/healthz", "/v1/models", "/v1/chat/completions"):
            httpx.request("GET" if path != "/v1/chat/completions" else "POST", url + path)
    print(sorted(span.name for span in exporter.get_finished_spans()))
    """
)


def test_a_global_tracer_provider_gets_no_framework_spans() -> None:
    # The gateway traces requests itself (gateway/tracing), to its own provider; the
    # framework's native telemetry would add a second, differently named span per request.
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
