"""A trace collector that is down is said once, not on every retry of every batch.

With tracing on and no collector listening, the OTLP exporter logged a warning for each
retry and an error for each lost batch: a dozen long lines a minute between the
gateway's own.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog

from gateway.logs import configure_logging
from tests.support.processes import aligngate, running_process
from tests.support.servers import free_port

EXPORTER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What configure_logging writes, captured; the root logger is restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("info", json_lines=True, stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_repeated_export_failures_are_one_line_that_counts_the_rest(
    console: io.StringIO,
) -> None:
    exporter = logging.getLogger(EXPORTER)
    for _ in range(5):
        exporter.warning("Transient error connection refused encountered, retrying in 1s.")
        exporter.error("Failed to export spans batch due to timeout, max retries or shutdown.")
    logging.getLogger("gateway.test").warning("our own line")
    lines = _lines(console.getvalue())
    exported = [line for line in lines if line["logger"] == EXPORTER]
    assert len(exported) == 1
    assert "connection refused" in exported[0]["event"]
    assert "held back" in exported[0]["event"]
    assert any(line["event"] == "our own line" for line in lines)


def test_a_gateway_with_its_collector_down_says_so_once(upstream_url: str) -> None:
    port = free_port()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "ALIGNGATE_STORE": "memory",
    }
    command = aligngate("serve", "--upstream", upstream_url, "--port", str(port))
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}
    with running_process(command, f"http://127.0.0.1:{port}/readyz", env=env) as process:
        for _ in range(4):
            httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=30)
            time.sleep(2)
        time.sleep(4)
    lines = _lines(process.log_path.read_text(encoding="utf-8"))
    exported = [line for line in lines if line["logger"].startswith("opentelemetry")]
    assert len(exported) == 1, [line["event"][:80] for line in exported]
