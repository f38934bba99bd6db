"""``aligngate serve --workers N``: N processes on one port, started and stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.processes import aligngate, running_process
from tests.support.servers import free_port

BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]}


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_two_workers_share_the_port_and_stop_with_their_parent(upstream_url: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = aligngate("serve", "--upstream", upstream_url, "--port", str(port), "--workers", "2")
    with running_process(command, f"{base}/healthz", env={"ALIGNGATE_STORE": "memory"}) as parent:
        workers = _children(parent.pid)
        assert len(workers) == 2
        before = {pid: _cpu_ticks(pid) for pid in workers}
        for _ in range(200):  # a new connection each: the kernel spreads them
            response = httpx.post(f"{base}/v1/chat/completions", json=BODY, timeout=30)
            assert response.status_code == 200, response.text
        assert all(_cpu_ticks(pid) > before[pid] for pid in workers)  # both served some
        parent.send_signal(signal.SIGTERM)
        # Ended by the signal, as one uvicorn process is after its graceful shutdown.
        assert parent.wait(timeout=30) in (0, -signal.SIGTERM)
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        (["--port", "0"], {}, "fixed --port"),
        ([], {"ALIGNGATE_STORE": "memory", "ALIGNGATE_ADMIN_KEY": "k" * 20}, "memory store"),
    ],
)
def test_workers_refuse_what_separate_processes_cannot_do(
    upstream_url: str, extra: list[str], env: dict[str, str], message: str
) -> None:
    args = ["serve", "--upstream", upstream_url, "--workers", "2", "--port", str(free_port())]
    result = subprocess.run(
        aligngate(*args, *extra),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
