"""Real model servers side by side: vLLM and ``aligngate models serve``, both with the adapters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.model_server.vllm_launch import shipped_adapters
from tests.support.processes import python_module, running_process
from tests.support.servers import free_port
from tests.support.vllm_server import SERVED_NAME, running_vllm


# Package scope: the servers stop once this folder's tests are done, not at the end of
# the whole run.
@pytest.fixture(scope="package")
def vllm_url() -> Iterator[str]:
    """Base URL (with ``/v1``) of real ``vllm serve`` with the bpo and aligner LoRA modules."""
    with running_vllm() as url:
        yield url


@pytest.fixture(scope="package")
def adapter_server_url() -> Iterator[str]:
    """``aligngate models serve`` with the same adapters, named as vLLM names them."""
    port = free_port()
    adapters = [f"--adapter={name}={path}" for name, path in shipped_adapters().items()]
    command = python_module(
        "gateway.model_server.cli",
        "serve",
        "--port",
        str(port),
        "--served-model-name",
        SERVED_NAME,
        *adapters,
    )
    url = f"http://127.0.0.1:{port}/v1"
    with running_process(command, f"{url}/models", timeout_s=300):
        yield url
