"""Start-up refusals that name what to change."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from gateway import startup_checks
from gateway.startup_checks import StartupRefused, check_gate_dependencies


def test_an_installed_gate_starts() -> None:
    check_gate_dependencies()  # the test environment has the gate extra


def test_a_gate_without_its_packages_is_refused_with_the_fix(monkeypatch: Any) -> None:
    real = importlib.util.find_spec

    def without_onnxruntime(name: str, *args: Any) -> Any:
        return None if name == "onnxruntime" else real(name, *args)

    monkeypatch.setattr(startup_checks.importlib.util, "find_spec", without_onnxruntime)
    with pytest.raises(StartupRefused, match=r"gate extra \(missing: onnxruntime\)"):
        check_gate_dependencies()
