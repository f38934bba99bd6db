"""Processes the benchmarks measure: a loopback upstream and gateways in front of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.processes import aligngate, python_module, running_process
from tests.support.servers import free_port


@pytest.fixture(scope="session")
def upstream_base() -> Iterator[str]:
    """A loopback OpenAI-compatible upstream in its own process (base URL with /v1)."""
    port = free_port()
    with running_process(
        python_module("tests.support.upstream_main", str(port)),
        f"http://127.0.0.1:{port}/v1/models",
    ):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="session")
def gateway_direct(upstream_base: str) -> Iterator[str]:
    """The gateway in quick mode (direct OpenAI-compatible path), as a real process."""
    port = free_port()
    with running_process(
        aligngate(
            "serve", "--upstream", upstream_base, "--port", str(port), "--log-level", "warning"
        ),
        f"http://127.0.0.1:{port}/healthz",
    ):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="session")
def gateway_litellm(upstream_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway with the same upstream reached through litellm instead."""
    config = {
        "models": [
            {
                "name": "upstream-model",
                "backend": {
                    "kind": "litellm",
                    "model": "openai/upstream-model",
                    "api_base": upstream_base,
                    "direct": False,
                },
            }
        ]
    }
    path = Path(tmp_path_factory.mktemp("litellm")) / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    with running_process(
        aligngate("serve", "--config", str(path), "--port", str(port), "--log-level", "warning"),
        f"http://127.0.0.1:{port}/healthz",
        env={"OPENAI_API_KEY": "sk-unused"},
    ):
        yield f"http://127.0.0.1:{port}/v1"
