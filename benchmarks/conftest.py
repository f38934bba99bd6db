"""Processes the benchmarks measure: a loopback upstream and gateways in front of it.

Every target is its own process on loopback, logging only warnings, so the
comparison is between servers, not between log volumes.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from gateway.engines.config import TransformersEngineConfig
from gateway.engines.transformers_engine import TransformersEngine
from tests.support.processes import aligngate, python_module, running_process
from tests.support.servers import free_port

# Sent by every benchmark client. The upstream and the open-mode gateway accept any
# key; the LiteLLM proxy refuses to start without a strong master key, so this is it.
BENCH_KEY = "sk-bench-4f9c2a7e1b8d4c6a9e3f5b7d1c2a8e4f"
MODEL = "upstream-model"

# The gateway's tenant store in memory: no SQLite file in the work tree.
GATEWAY_ENV = {"ALIGNGATE_STORE": "memory"}


@pytest.fixture(scope="session")
def upstream_base() -> Iterator[str]:
    """A loopback OpenAI-compatible upstream in its own process (base URL with /v1)."""
    port = free_port()
    with running_process(
        python_module("tests.support.upstream_main", str(port)),
        f"http://127.0.0.1:{port}/v1/models",
    ):
        yield f"http://127.0.0.1:{port}/v1"


@contextmanager
def quick_gateway(upstream_base: str) -> Iterator[tuple[str, int]]:
    """``aligngate serve --upstream`` as its own process: its base URL (with /v1) and pid."""
    port = free_port()
    with running_process(
        aligngate(
            "serve", "--upstream", upstream_base, "--port", str(port), "--log-level", "warning"
        ),
        f"http://127.0.0.1:{port}/healthz",
        env=GATEWAY_ENV,
    ) as process:
        yield f"http://127.0.0.1:{port}/v1", process.pid


@pytest.fixture(scope="session")
def gateway_direct(upstream_base: str) -> Iterator[str]:
    """The gateway in quick mode (direct OpenAI-compatible path), as a real process."""
    with quick_gateway(upstream_base) as (url, _):
        yield url


@pytest.fixture(scope="session")
def gateway_litellm(upstream_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway with the same upstream reached through litellm instead."""
    config = {
        "models": [
            {
                "name": MODEL,
                "backend": {
                    "kind": "litellm",
                    "model": f"openai/{MODEL}",
                    "api_base": upstream_base,
                    # Needed while the old spelling (kind: litellm for the direct
                    # path) is read: it keeps an openai/ model with an api_base on litellm.
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
        env={"OPENAI_API_KEY": "sk-unused", **GATEWAY_ENV},
    ):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="session")
def litellm_proxy(upstream_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """LiteLLM's own proxy in front of the same upstream (the `bench` extra), as a process."""
    with litellm_proxy_process(
        upstream_base, Path(tmp_path_factory.mktemp("litellm-proxy"))
    ) as url:
        yield url


@contextmanager
def litellm_proxy_process(upstream_base: str, folder: Path) -> Iterator[str]:
    """LiteLLM's proxy, one worker, in front of ``upstream_base``: its base URL (with /v1)."""
    command = _litellm_proxy_command()
    config = {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": upstream_base,
                    "api_key": "sk-x",
                },
            }
        ],
        # No database: the master key alone authenticates, as a minimal deployment does.
        "general_settings": {"master_key": BENCH_KEY},
        "litellm_settings": {"telemetry": False, "num_retries": 0},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "logging.json").write_text(json.dumps(_QUIET_UVICORN_LOGS))
    port = free_port()
    with running_process(
        [
            *command,
            "--log_config",
            str(folder / "logging.json"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
            "--config",  # last: the process log is named after the final argument
            str(folder / "config.yaml"),
        ],
        f"http://127.0.0.1:{port}/health/liveliness",
        env={
            # Offline and quick to start: the bundled model-cost map instead of a download,
            # no telemetry, and only errors in its own log.
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOG": "ERROR",
        },
    ):
        yield f"http://127.0.0.1:{port}/v1"


def _litellm_proxy_command() -> list[str]:
    """The `litellm` CLI of this environment, or a skip naming what is missing."""
    # Found without importing litellm, which alone takes seconds and 100+ MB.
    for module, why in (("litellm", "litellm"), ("apscheduler", "litellm's proxy extra")):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{why} is not installed: pip install -e '.[bench]'")
    executable = Path(sys.executable).with_name("litellm")
    if executable.exists():
        return [str(executable)]
    on_path = shutil.which("litellm")
    if on_path is None:
        pytest.skip("the litellm CLI is not installed: pip install -e '.[bench]'")
    return [on_path]


# uvicorn's access log writes a line per request; the gateway runs with warnings only.
_QUIET_UVICORN_LOGS = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {
        "uvicorn": {"level": "WARNING"},
        "uvicorn.error": {"level": "WARNING"},
        "uvicorn.access": {"level": "WARNING", "propagate": False},
    },
}


@pytest.fixture(scope="session")
def embedded_engine() -> TransformersEngine:
    """The embedded SmolLM2, loaded once for the benchmarks that need it."""
    engine = TransformersEngine(TransformersEngineConfig())
    engine.load()
    return engine
