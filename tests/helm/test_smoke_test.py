"""The chart's `helm test` pod, run as rendered against a real gateway on loopback.

The pod's command and environment come from the rendered chart; only the in-cluster
Service addresses are swapped for the loopback ports of an `aligngate serve` process.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.rendering import Rendered, render, render_preset
from tests.support.processes import aligngate, running_process
from tests.support.servers import free_port

TENANT_KEY = "sk-tenant-smoke"


def hook_container(rendered: Rendered) -> dict[str, Any]:
    """The container of the chart's test hook."""
    pod = rendered.one("Pod", "test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    result: dict[str, Any] = container
    return result


@contextmanager
def serving(tmp_path: Path, metrics_port: int | None) -> Iterator[tuple[str, str | None]]:
    """A gateway process with one seeded tenant; yields its API and metrics base URLs."""
    config = {
        "default_backend": {"kind": "openai", "model": "*", "api_base": "http://127.0.0.1:9/v1"},
        "tenants": [{"name": "smoke", "api_key_envs": ["SMOKE_TENANT_KEY"]}],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    args = ["serve", "--config", str(path), "--host", "127.0.0.1", "--port", str(port)]
    if metrics_port is not None:
        args += ["--metrics-port", str(metrics_port)]
    env = {"SMOKE_TENANT_KEY": TENANT_KEY, "ALIGNGATE_SQLITE_PATH": str(tmp_path / "state.db")}
    api = f"http://127.0.0.1:{port}"
    with running_process(aligngate(*args), f"{api}/readyz", timeout_s=60, env=env):
        metrics = f"http://127.0.0.1:{metrics_port}" if metrics_port is not None else None
        yield api, metrics


def run_pod(
    container: dict[str, Any], api: str, metrics: str | None
) -> subprocess.CompletedProcess[str]:
    """Run the container's command here, its Service addresses pointed at loopback."""
    env = {item["name"]: item.get("value", "") for item in container["env"]}
    env["GATEWAY_URL"] = api
    env["READY_TIMEOUT_S"] = "5"
    if metrics is not None:
        assert env["METRICS_URL"].endswith(":9090")
        env["METRICS_URL"] = metrics
    command = container["command"]
    assert command[0] == "python"
    return subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_test_hook_passes_against_a_gateway_that_keeps_its_promises(tmp_path: Path) -> None:
    container = hook_container(render())
    with serving(tmp_path, metrics_port=free_port()) as (api, metrics):
        result = run_pod(container, api, metrics)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok: ") == 4
    assert "a request without a key is refused" in result.stdout


def test_the_test_hook_fails_when_the_api_port_serves_metrics(tmp_path: Path) -> None:
    # The chart expects /metrics on its own port; this gateway serves it on the API port.
    container = hook_container(render())
    with serving(tmp_path, metrics_port=None) as (api, _):
        result = run_pod(container, api, metrics=api)
    assert result.returncode == 1
    assert "FAIL: no /metrics on the API port" in result.stdout


def test_the_test_hook_fails_when_the_gateway_is_not_there() -> None:
    container = hook_container(render())
    result = run_pod(container, f"http://127.0.0.1:{free_port()}", None)
    assert result.returncode == 1
    assert "FAIL: ready" in result.stdout


@pytest.mark.parametrize("preset", ["default", "gpu", "embedded"])
def test_the_test_pod_runs_the_gateway_image_as_the_gateway_does(preset: str) -> None:
    rendered = render_preset(preset)
    gateway = rendered.one("Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    container = hook_container(rendered)
    assert container["image"] == gateway["image"]
    assert container["securityContext"] == gateway["securityContext"]
    names = {item["name"] for item in container["env"]}
    assert ("METRICS_URL" in names) == ("--metrics-port" in gateway["args"])
