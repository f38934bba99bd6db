"""The real ``aligngate serve`` process: refusing unsafe start-ups, shutdown, clean logs."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import yaml

from tests.support.gateway import ADMIN_KEY, upstream_route
from tests.support.processes import ROOT, aligngate, python_module, running_process
from tests.support.servers import free_port
from tests.support.upstream import UpstreamScript


def test_open_mode_refuses_a_public_interface_with_one_line_and_status_2(
    upstream_url: str,
) -> None:
    result = subprocess.run(
        python_module(
            "gateway",
            *("serve", "--upstream", upstream_url, "--host", "0.0.0.0", "--port", str(free_port())),
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"ALIGNGATE_STORE": "memory", "PATH": "/usr/bin:/bin"},
    )
    # Refused before uvicorn starts: no lifespan traceback, and 2 (a usage error), not 3.
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aligngate: ") and "--allow-open-public" in lines[0]


def test_a_stream_in_flight_at_sigterm_completes(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.chunk_delay_s = 0.3  # six words: about two seconds of streaming
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = aligngate("serve", "--upstream", upstream_url, "--port", str(port))
    received: list[str] = []
    with running_process(command, f"{base}/healthz", env={"ALIGNGATE_STORE": "memory"}) as proc:

        def stream() -> None:
            with httpx.stream(
                "POST",
                f"{base}/v1/chat/completions",
                timeout=30,
                json={
                    "model": "m",
                    "stream": True,
                    "messages": [{"role": "user", "content": "Hi"}],
                },
            ) as response:
                received.extend(response.iter_lines())

        reader = threading.Thread(target=stream)
        reader.start()
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            accepted_after_sigterm = True
        except httpx.HTTPError:
            accepted_after_sigterm = False
        reader.join(timeout=30)
        code = proc.wait(timeout=30)
    assert [line for line in received if line][-1] == "data: [DONE]"
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in received
        if line.startswith("data: {") and '"choices":[{' in line
    )
    assert text == upstream.reply
    assert not accepted_after_sigterm
    # uvicorn re-raises the signal after its graceful shutdown, as a supervisor expects.
    assert code in (0, -signal.SIGTERM)


def test_keys_and_unopted_prompts_never_reach_the_logs(tmp_path: Path, upstream_url: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"models": [upstream_route("gpt-test", upstream_url)]}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "ALIGNGATE_STORE": "memory",
        "ALIGNGATE_ADMIN_KEY": ADMIN_KEY,
        "ALIGNGATE_LOG_LEVEL": "debug",
    }
    secret_prompt = "my password is hunter2-very-secret"
    with running_process(
        aligngate("serve", "--config", str(config), "--port", str(port)), f"{base}/healthz", env=env
    ) as proc:
        admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        httpx.post(f"{base}/admin/tenants", json={"name": "acme"}, headers=admin)
        key = httpx.post(f"{base}/admin/tenants/acme/keys", json={}, headers=admin).json()["key"]
        ok = httpx.post(
            f"{base}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "gpt-test", "messages": [{"role": "user", "content": secret_prompt}]},
        )
        httpx.post(
            f"{base}/v1/chat/completions",
            headers={"authorization": "Bearer sk-guess-123"},
            json={"model": "gpt-test", "messages": [{"role": "user", "content": "x"}]},
        )
    assert ok.status_code == 200
    logs = proc.log_path.read_text()
    assert '"event": "chat_request"' in logs
    for secret in (key, ADMIN_KEY, "sk-guess-123", secret_prompt, "hunter2"):
        assert secret not in logs
