"""LiteLLM's proxy as a real process for tests, offline, or a skip if it is not installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.processes import python_module, running_process
from tests.support.servers import free_port

MASTER_KEY = "sk-litellm-master-0123456789abcdef0123456789"

# Modules the proxy imports at start-up that plain litellm does not bring.
_PROXY_MODULES = ("litellm", "apscheduler", "orjson", "backoff", "fastapi_sso", "jwt")


def require_litellm_proxy() -> None:
    """Skip, naming what is missing, unless ``litellm[proxy]`` is installed."""
    missing = [m for m in _PROXY_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(
            f"litellm[proxy] is not installed (missing {', '.join(missing)}): "
            "pip install -e '.[test]'"
        )


@contextmanager
def litellm_proxy(folder: Path, config: dict[str, Any]) -> Iterator[str]:
    """Start ``litellm --config`` on a free loopback port; yield its base URL with ``/v1``."""
    require_litellm_proxy()
    path = folder / "litellm.yaml"
    path.write_text(yaml.safe_dump({**config, "general_settings": {"master_key": MASTER_KEY}}))
    port = free_port()
    command = python_module("litellm.proxy.proxy_cli", "--host", "127.0.0.1")
    command += ["--port", str(port), "--num_workers", "1", "--config", str(path)]
    env = {
        # Offline: the bundled model-cost map instead of a download, no telemetry.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOG": "ERROR",
        "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
    }
    url = f"http://127.0.0.1:{port}"
    with running_process(command, f"{url}/health/liveliness", timeout_s=180, env=env):
        yield f"{url}/v1"
