"""``aligngate serve --workers N``: N gateway processes sharing one port.

Each worker is a whole ``aligngate serve`` of its own (its own event loop, pool
and caches) listening with SO_REUSEPORT, so the kernel spreads connections
over them and one worker's crash or stall leaves the others serving. This
process only starts them, passes SIGTERM/SIGINT on, and exits when they have.

State that must hold across workers goes through the store: tenants and keys
(SQLite file or Redis, read through the version-checked cache) and, with
Redis, rate limits. The circuit breaker and the Prometheus metrics are per
worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from gateway.settings import GatewaySettings
from gateway.startup_checks import StartupRefused


def check_workers(settings: GatewaySettings) -> None:
    """Refuse what N separate processes cannot do correctly."""
    if settings.port == 0:
        raise StartupRefused("--workers needs a fixed --port: port 0 gives each its own")
    if settings.store == "memory" and settings.admin_key is not None:
        raise StartupRefused(
            "--workers with the memory store and the admin API: an admin write would reach "
            "one worker only; use the SQLite or Redis store"
        )


def run_workers(settings: GatewaySettings, argv: Sequence[str]) -> int:
    """Start ``settings.workers`` copies of this command; their worst exit status."""
    check_workers(settings)
    command = [sys.executable, "-m", "gateway", *_without_workers(argv)]
    env = {**os.environ, "ALIGNGATE_REUSE_PORT": "true", "ALIGNGATE_WORKERS": "1"}
    workers = [subprocess.Popen(command, env=env) for _ in range(settings.workers)]

    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    codes = []
    while workers:
        for worker in list(workers):
            code = worker.poll()
            if code is not None:
                workers.remove(worker)
                codes.append(code)
                if code != 0 and not received:
                    forward(signal.SIGTERM, None)  # one failed: stop the rest
        time.sleep(0.1)
    if received and all(code in (0, -received[0]) for code in codes):
        # Stopped by a signal, as a single ``aligngate serve`` is: end the same way.
        signal.signal(received[0], signal.SIG_DFL)
        signal.raise_signal(received[0])
    return max((abs(code) for code in codes), default=0)


def _without_workers(argv: Sequence[str]) -> list[str]:
    """``argv`` minus ``--workers N`` / ``--workers=N``."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            kept.append(arg)
    return kept
