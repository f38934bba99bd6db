"""``kind: openai`` is the direct HTTP path, ``kind: litellm`` the translation through litellm.

The old spelling (``kind: litellm`` for the direct path) keeps working, rewritten at
start-up with one deprecation warning in the log.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from gateway.backends.factory import build_remote_backend
from gateway.backends.litellm_backend import LitellmBackend
from gateway.backends.openai_compat import OpenAICompatibleBackend
from gateway.config import GatewayConfig, LitellmBackendConfig, OpenAIBackendConfig
from tests.support.gateway import client
from tests.support.processes import ROOT, python_module, running_process
from tests.support.servers import free_port
from tests.support.upstream import UpstreamScript


def backend_of(backend: dict[str, object]) -> OpenAIBackendConfig | LitellmBackendConfig:
    config = GatewayConfig.model_validate({"models": [{"name": "m", "backend": backend}]})
    route = config.models[0].backend
    assert isinstance(route, OpenAIBackendConfig | LitellmBackendConfig)
    return route


def test_kind_openai_builds_the_direct_http_backend() -> None:
    config = backend_of({"kind": "openai", "model": "m", "api_base": "http://127.0.0.1:9/v1"})
    assert isinstance(build_remote_backend(config), OpenAICompatibleBackend)


def test_kind_litellm_builds_the_litellm_backend_even_for_an_openai_model() -> None:
    config = backend_of(
        {
            "kind": "litellm",
            "model": "openai/m",
            "api_base": "http://127.0.0.1:9/v1",
            "direct": False,
        }
    )
    assert isinstance(config, LitellmBackendConfig) and config.model == "openai/m"
    assert isinstance(build_remote_backend(config), LitellmBackend)


def test_the_old_direct_spelling_reads_as_kind_openai() -> None:
    old = {"kind": "litellm", "model": "hosted_vllm/base", "api_base": "http://127.0.0.1:9/v1"}
    config = backend_of(old)
    assert isinstance(config, OpenAIBackendConfig) and config.model == "base"
    forced = backend_of(
        {"kind": "litellm", "model": "local", "api_base": "http://x/v1", "direct": True}
    )
    assert isinstance(forced, OpenAIBackendConfig) and forced.model == "local"


def test_the_old_spelling_still_serves_and_is_warned_about_once_at_start_up(
    tmp_path: Path, upstream: UpstreamScript, upstream_url: str
) -> None:
    config = {
        "models": [
            {
                "name": "old",
                "backend": {
                    "kind": "litellm",
                    "model": "openai/upstream-model",
                    "api_base": upstream_url,
                },
            }
        ]
    }
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = python_module("gateway", "serve", "--config", str(path), "--port", str(port))
    env = {"ALIGNGATE_STORE": "memory", "PYTHONPATH": str(ROOT)}
    with running_process(command, f"{base}/healthz", env={**os.environ, **env}) as process:
        for _ in range(2):
            answer = client(base).chat.completions.create(
                model="old", messages=[{"role": "user", "content": "Hi"}]
            )
            assert answer.choices[0].message.content == upstream.reply
    # The direct path sends the model's own name; litellm is never in the way.
    assert [request["model"] for request in upstream.requests] == ["upstream-model"] * 2
    warnings = [
        line for line in process.log_path.read_text().splitlines() if "config_deprecated" in line
    ]
    assert len(warnings) == 1, warnings
    assert "kind: openai" in warnings[0] and str(path) in warnings[0]
