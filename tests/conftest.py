"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

# Idle torch threads spin and fight other processes for the 2 cores; passive waits
# must be set before anything imports torch (the embedder, the engine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Iterator

import pytest

from gateway.engines.config import TransformersEngineConfig
from gateway.engines.transformers_engine import TransformersEngine
from tests.support.processes import python_module, running_process
from tests.support.servers import free_port, serve_in_thread
from tests.support.upstream import UpstreamScript, create_upstream


def pytest_configure(config: pytest.Config) -> None:
    """Stop at once, saying the fix, when the project's own plug-ins are not installed."""
    from gateway.plugins import stage_kinds

    if not {"bpo", "aligner"} <= set(stage_kinds()):
        pytest.exit(
            "the stage and command plug-ins of pyproject.toml are not installed "
            "(gateway/plugins.py): run `pip install -e .` again",
            returncode=4,
        )


@pytest.fixture
def upstream() -> UpstreamScript:
    """The script of the loopback upstream: set replies, read what it received."""
    return UpstreamScript()


@pytest.fixture
def upstream_url(upstream: UpstreamScript) -> Iterator[str]:
    """Base URL (with ``/v1``) of a real OpenAI-compatible server on loopback."""
    with serve_in_thread(create_upstream(upstream)) as url:
        yield f"{url}/v1"


@pytest.fixture(scope="session")
def embedded_engine() -> TransformersEngine:
    """The embedded SmolLM2 engine, loaded once per session; shared, so never close it."""
    engine = TransformersEngine(TransformersEngineConfig())
    engine.load()
    return engine


@pytest.fixture(scope="session")
def model_server_url() -> Iterator[str]:
    """Base URL (with ``/v1``) of ``models serve`` on the embedded model, as its own process."""
    port = free_port()
    command = python_module(
        "gateway.model_server.cli", "serve", "--port", str(port), "--served-model-name", "smollm2"
    )
    url = f"http://127.0.0.1:{port}/v1"
    with running_process(command, f"{url}/models", timeout_s=180):
        yield url
