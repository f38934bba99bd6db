"""The risk gate loads on a fresh machine beside the embedded engine, and readiness waits for it.

A real ``aligngate serve`` process with an empty ONNX cache: the gate exports MiniLM
(which imports transformers) while the engine loads SmolLM2 (which imports it too).
Both used to run at once and the gate's load failed on every fresh start while
``/readyz`` said ready.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.engines.loading import default_cache_dir
from gateway.engines.transformers_engine import TransformersEngine
from tests.support.processes import aligngate, running_process
from tests.support.servers import free_port

pytestmark = pytest.mark.model


def _config(tmp_path: Path) -> Path:
    config = {
        "engines": {"local": {"kind": "transformers", "model": "embedded:smollm2"}},
        "models": [
            {
                "name": "smollm2",
                "backend": {"kind": "engine", "engine": "local", "default_max_tokens": 8},
            }
        ],
        "stages": {"aligner": {"kind": "aligner", "engine": "local", "max_tokens": 8}},
        "pipeline": ["aligner"],
        "gate": {"enabled": True},
        "tenants": [
            {
                "name": "acme",
                "api_key_envs": ["ACME_KEY"],
                "policy": {"on_failure": "closed", "stages": {"aligner": {"gate": "gated"}}},
            }
        ],
    }
    path = tmp_path / "gated.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_fresh_start_loads_the_gate_before_it_reports_ready(
    tmp_path: Path, embedded_engine: TransformersEngine
) -> None:
    # The converted GGUF is shared (its conversion is not what this test is about);
    # the ONNX cache is empty, so the gate must export MiniLM while the engine loads.
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "gguf").symlink_to(default_cache_dir() / "gguf")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "ALIGNGATE_CACHE_DIR": str(cache),
        "ALIGNGATE_SQLITE_PATH": str(tmp_path / "state.db"),
        "ACME_KEY": "sk-acme-key",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
    }
    command = aligngate("serve", "--config", str(_config(tmp_path)), "--port", str(port))
    with running_process(command, f"{url}/readyz", timeout_s=300, env=env) as process:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            headers={"authorization": "Bearer sk-acme-key"},
            json={"model": "smollm2", "messages": [{"role": "user", "content": "Hi there!"}]},
            timeout=120,
        )
        log = process.log_path.read_text(errors="replace")
    assert "engine_load_failed" not in log, log[-3000:]
    assert response.status_code == 200, response.text
    # A fail-closed tenant only gets an answer when the gate really scored it.
    assert response.headers["x-aligngate-stages"] in {
        "aligner=skipped-by-gate",
        "aligner=corrected",
        "aligner=unchanged",
    }
