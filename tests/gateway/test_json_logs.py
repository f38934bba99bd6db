"""Every line the gateway writes is JSON, and a request's lines carry its id."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import yaml

from gateway.logs import configure_logging
from tests.support.gateway import upstream_route
from tests.support.processes import aligngate, running_process
from tests.support.servers import free_port
from tests.support.upstream import UpstreamScript

HELLO = [{"role": "user", "content": "Hi"}]


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line parsed; the first that is not a JSON object fails the test."""
    events = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(event, dict), line
        events.append(event)
    return events


def _config(upstream_url: str) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    return {
        # The stage's engine is not listening: its stage fails, and is fail-closed.
        "engines": {"small": {"kind": "remote", "api_base": dead, "model": "m"}},
        "models": [
            upstream_route("gpt-test", upstream_url, retry={"attempts": 2, "backoff_s": 0}),
            {**upstream_route("gpt-staged", upstream_url), "pipeline": ["aligner"]},
            upstream_route("gpt-down", dead, retry={"attempts": 1}, breaker={"failures": 1}),
        ],
        "stages": {"aligner": {"kind": "aligner", "engine": "small", "on_failure": "closed"}},
    }


def test_every_line_of_a_served_gateway_is_json_and_a_request_s_lines_carry_its_id(
    upstream: UpstreamScript, upstream_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_config(upstream_url)))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = aligngate("serve", "--config", str(path), "--port", str(port))
    with running_process(command, f"{base}/healthz", env={"ALIGNGATE_STORE": "memory"}) as process:

        def chat(request_id: str, **body: Any) -> int:
            return httpx.post(
                f"{base}/v1/chat/completions",
                json={"messages": HELLO, **body},
                headers={"x-request-id": request_id},
                timeout=30,
            ).status_code

        upstream.fail_times = 1  # the first call fails with a 500: retried once
        statuses = [
            chat("req-retried", model="gpt-test"),
            chat("req-stage-failed", model="gpt-staged"),
            chat("req-circuit", model="gpt-down"),
            chat("req-stream", model="gpt-test", stream=True),
            chat("req-invalid"),
            httpx.get(f"{base}/v1/no-such-route").status_code,
            httpx.post(
                f"{base}/v1/embeddings", json={"model": "gpt-test", "input": "x"}
            ).status_code,
        ]
    assert statuses == [200, 503, 502, 200, 400, 404, 200]
    events = _json_lines(process.log_path.read_text())

    def by_id(request_id: str) -> dict[str, dict[str, Any]]:
        return {e["event"]: e for e in events if e.get("request_id") == request_id}

    assert "backend_retry" in by_id("req-retried")
    failed = by_id("req-stage-failed")["stage_failed"]
    assert failed["stage"] == "aligner" and failed["error_type"] == "EngineError"
    # The cause, not only its type: what the engine call ran into.
    assert "ConnectError" in failed["cause"]
    assert "circuit_opened" in by_id("req-circuit")
    for request_id in ("req-retried", "req-stage-failed", "req-stream", "req-invalid"):
        assert "http_request" in by_id(request_id), request_id
    # The server's own lines (uvicorn's, through stdlib logging) are JSON too.
    assert any(e.get("logger", "").startswith("uvicorn") for e in events)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Configure logging in this process for one test, and put everything back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    logging.captureWarnings(False)
    structlog.reset_defaults()


def test_stdlib_records_and_warnings_are_json_lines_with_the_bound_request_id(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown (and so logged), not raised by pytest
        configure_logging("info", json_lines=True)
        with structlog.contextvars.bound_contextvars(request_id="req-bound"):
            structlog.get_logger("aligngate.test").info("from_structlog", n=1)
            logging.getLogger("asyncio").error("from stdlib %s", "asyncio")
            warnings.warn("a library's warning", UserWarning, stacklevel=1)
            try:
                raise ValueError("boom")
            except ValueError:
                logging.getLogger("uvicorn.error").exception("failed")
    events = _json_lines(capsys.readouterr().err)
    assert [e["event"] for e in events][:2] == ["from_structlog", "from stdlib asyncio"]
    assert all(e["request_id"] == "req-bound" for e in events), events
    assert any("a library's warning" in e["event"] for e in events)
    [failed] = [e for e in events if e["event"] == "failed"]
    assert "ValueError: boom" in failed["exception"] and failed["level"] == "error"


def test_the_gguf_writers_progress_lines_stay_out_of_the_log() -> None:
    """A first start converts the adapters and cuts the gate's trunk with gguf, whose
    writer logged five info lines a file ("This GGUF file is for Little Endian only")."""
    import io

    stream = io.StringIO()
    configure_logging("info", json_lines=True, stream=stream)
    try:
        logging.getLogger("gguf.gguf_writer").info("gguf: This GGUF file is for Little Endian only")
        logging.getLogger("gguf.gguf_writer").warning("a real problem")
    finally:
        configure_logging("info", json_lines=True)
    lines = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert lines == ["a real problem"]
