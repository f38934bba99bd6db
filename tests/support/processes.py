"""Run a server as its own process (a real command), waiting until it answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


class LoggedProcess(subprocess.Popen[bytes]):
    """A process whose combined output goes to ``log_path``."""

    log_path: Path


@contextmanager
def running_process(
    args: Sequence[str],
    ready_url: str,
    *,
    timeout_s: float = 120,
    env: dict[str, str] | None = None,
) -> Iterator[LoggedProcess]:
    """Start ``args``, wait for ``ready_url`` to answer 200, and stop the process after."""
    log = (ROOT / ".pytest-logs").resolve()
    log.mkdir(exist_ok=True)
    out = (log / f"{Path(args[-1]).name}-{os.getpid()}-{time.monotonic_ns()}.log").open("wb")
    process = LoggedProcess(
        list(args),
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    process.log_path = Path(out.name)
    try:
        _wait_ready(process, ready_url, timeout_s, out.name)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        out.close()


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float, log: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{process.args!r} exited with {process.returncode}; see {log}{_tail(log)}"
            )
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become ready in {timeout_s}s; see {log}{_tail(log)}")


def _tail(log: str, chars: int = 4000) -> str:
    """The end of a process's log, so a failed start shows why without opening the file."""
    text = Path(log).read_text(encoding="utf-8", errors="replace")
    return f"\n--- last {chars} characters of its log ---\n{text[-chars:]}"


def python_module(module: str, *args: str) -> list[str]:
    """The command that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def aligngate(*args: str) -> list[str]:
    """The command that runs the ``aligngate`` console script of this environment."""
    return [str(Path(sys.executable).with_name("aligngate")), *args]
