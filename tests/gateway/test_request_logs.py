"""One structured event per request; content only on opt-in, and then redacted."""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml
from structlog.testing import capture_logs

from gateway.redaction import redact
from tests.gateway.tenants.test_tenant_policies import _small_model, config
from tests.support.gateway import (
    ADMIN_KEY,
    client,
    create_tenant,
    running_gateway,
    upstream_route,
)
from tests.support.metrics import sample
from tests.support.processes import aligngate, running_process
from tests.support.scripted_engine import ScriptedEngine
from tests.support.servers import free_port
from tests.support.upstream import UpstreamScript

SECRET_PROMPT = (
    "My key is sk-live-abcdef1234567890 and mail bob@example.com, card 4111 1111 1111 1111"
)


def _one_request(url: str, key: str) -> None:
    client(url, api_key=key).chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": SECRET_PROMPT}]
    )


def test_a_request_logs_one_event_without_its_content_by_default(upstream_url: str) -> None:
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme")
        with capture_logs() as logs:
            _one_request(url, key)
    [event] = [e for e in logs if e["event"] == "chat_request"]
    assert event["tenant"] == "acme" and event["status"] == 200
    assert event["request_id"].startswith("req-")
    assert [s["stage"] for s in event["stages"]] == ["bpo", "aligner"]
    assert all(s["duration_ms"] >= 0 for s in event["stages"])
    everything = json.dumps(logs)
    assert "sk-live" not in everything and "bob@example.com" not in everything
    assert "Explain" not in everything and "prompt" not in event


def test_opted_in_content_is_logged_with_secrets_redacted(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.reply = "Call me at alice@example.org"
    engine = ScriptedEngine([_small_model], repeat=True)
    with running_gateway(config(upstream_url), {"small": engine}, admin_key=ADMIN_KEY) as url:
        key = create_tenant(url, "acme", policy={"log_content": True, "pipeline": []})
        with capture_logs() as logs:
            _one_request(url, key)
    [event] = [e for e in logs if e["event"] == "chat_request"]
    assert "[REDACTED_KEY]" in event["prompt"] and "sk-live" not in event["prompt"]
    assert "[REDACTED_EMAIL]" in event["prompt"] and "[REDACTED_CARD]" in event["prompt"]
    assert event["answer"] == "Call me at [REDACTED_EMAIL]"
    assert key not in json.dumps(logs)


def test_redaction_keeps_numbers_that_are_not_card_numbers() -> None:
    assert redact("order 1234 5678 9012 3456") == "order 1234 5678 9012 3456"
    assert redact("Bearer abcdefghijklmnop") == "Bearer [REDACTED_KEY]"


def test_a_huge_pathological_prompt_neither_stalls_the_gateway_nor_floods_the_log(
    upstream_url: str, tmp_path: Path
) -> None:
    # 4 MB of one long run: the old email pattern rescanned it from every character
    # (13 s per 100 k characters, so hours here), on the event loop. The gateway is its
    # own process so that a regression fails on the probes' timeouts instead of also
    # holding this test process's GIL.
    digest = hashlib.sha256(b"sk-tenant-logged").hexdigest()
    config = {
        "models": [upstream_route("gpt-test", upstream_url)],
        "tenants": [
            {
                "name": "logged",
                "api_key_sha256": [digest],
                "policy": {"log_content": True, "pipeline": []},
            }
        ],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    prompt = "my key sk-live-abcdef1234567890 " + "a" * 4_000_000
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": prompt}]}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"ALIGNGATE_STORE": "memory", "ALIGNGATE_MAX_BODY_BYTES": str(8 * 1024 * 1024)}
    command = aligngate("serve", "--config", str(path), "--port", str(port))
    with running_process(command, f"{base}/healthz", env=env) as process:
        with ThreadPoolExecutor(1) as pool:
            big = pool.submit(
                httpx.post,
                f"{base}/v1/chat/completions",
                json=body,
                headers={"authorization": "Bearer sk-tenant-logged"},
                timeout=60,
            )
            probes = []
            while not big.done() or len(probes) < 5:
                started = time.perf_counter()
                # A stalled loop raises ReadTimeout here: the regression's failure.
                assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
                probes.append(time.perf_counter() - started)
                time.sleep(0.05)
            answer = big.result()
        line = _wait_for_line(process.log_path, '"chat_request"')
    assert answer.status_code == 200
    # Generous next to a probe's normal millisecond (parsing and forwarding 4 MB of
    # JSON takes some, on 2 shared cores), and far under the regression's hours.
    assert max(probes) < 3.0, probes
    event = json.loads(line)
    assert event["prompt"].startswith("my key [REDACTED_KEY] aaa")
    assert "sk-live" not in line and len(line) < 50_000
    assert str(len(prompt)) in event["prompt"]


def _wait_for_line(log_path: Path, needle: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if needle in line:
                return line
        time.sleep(0.1)
    raise AssertionError(f"no log line with {needle} in {log_path}")


def test_every_refused_request_leaves_a_log_line_and_a_metric_without_its_key(
    upstream_url: str,
) -> None:
    wrong_key, wrong_admin = "sk-wrong-7f3a9c1e5b", "admin-wrong-2d8e4f6a"
    with running_gateway(
        {"models": [upstream_route("gpt-test", upstream_url)]},
        admin_key=ADMIN_KEY,
        max_body_bytes=2048,
    ) as url:
        create_tenant(url, "acme")
        chat = f"{url}/v1/chat/completions"
        body = {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]}
        with capture_logs() as logs:
            refused = [
                httpx.post(chat, json=body),
                httpx.post(chat, json=body, headers={"authorization": f"Bearer {wrong_key}"}),
                httpx.get(
                    f"{url}/admin/tenants", headers={"authorization": f"Bearer {wrong_admin}"}
                ),
                httpx.post(chat, content=b"x" * 5000, headers={"content-type": "application/json"}),
            ]
        metrics = httpx.get(f"{url}/metrics").text
    assert [r.status_code for r in refused] == [401, 401, 401, 413]
    events = [e for e in logs if e["event"] == "request_rejected"]
    assert [(e["reason"], e["status"], e["path"]) for e in events] == [
        ("missing_api_key", 401, "/v1/chat/completions"),
        ("invalid_api_key", 401, "/v1/chat/completions"),
        ("invalid_admin_key", 401, "/admin/tenants"),
        ("body_too_large", 413, "/v1/chat/completions"),
    ]
    assert [e["request_id"] for e in events] == [r.headers["x-request-id"] for r in refused]
    assert all(e["log_level"] == "warning" for e in events)
    everything = json.dumps(logs)
    assert wrong_key not in everything and wrong_admin not in everything
    for reason in ("missing_api_key", "invalid_api_key", "invalid_admin_key", "body_too_large"):
        assert sample(metrics, "aligngate_rejected_requests_total", reason=reason) == 1
