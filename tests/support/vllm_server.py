"""Real ``vllm serve`` on loopback (CPU build, its own cached venv) for tests and benchmarks."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.model_server.vllm_env import VllmEnv, ensure_vllm_env
from gateway.model_server.vllm_launch import (
    VllmServeOptions,
    cpu_environment,
    embedded_model_dir,
    serve_arguments,
    shipped_adapters,
)
from tests.support.processes import running_process
from tests.support.servers import free_port

# A cold start on two busy cores: importing torch and vLLM, loading 540 MB of fp32
# weights, both adapters and warming up. Measured well under this; see VLLM.md.
READY_TIMEOUT_S = float(os.environ.get("ALIGNGATE_VLLM_READY_TIMEOUT_S", "900"))
SERVED_NAME = "smollm2"


def vllm_environment() -> VllmEnv:
    """The cached vLLM venv, installed on first use (a few minutes), with the time it took."""
    started = time.monotonic()
    env = ensure_vllm_env()
    print(f"\nvLLM venv {env.root} ready in {time.monotonic() - started:.0f}s")
    return env


@contextmanager
def running_vllm(max_num_seqs: int = 16) -> Iterator[str]:
    """``vllm serve`` on the embedded model with the shipped adapters; yields its ``/v1`` URL."""
    env = vllm_environment()
    port = free_port()
    options = VllmServeOptions(
        model_dir=embedded_model_dir(),
        adapters=shipped_adapters(),
        served_model_name=SERVED_NAME,
        port=port,
        max_num_seqs=max_num_seqs,
    )
    url = f"http://127.0.0.1:{port}/v1"
    # /v1/models answers only once the engine has loaded the model and the adapters.
    with running_process(
        env.command("serve", *serve_arguments(options)),
        f"{url}/models",
        timeout_s=READY_TIMEOUT_S,
        env=cpu_environment(),
    ):
        yield url
