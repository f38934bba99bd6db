"""The chart's and the image's ``vllm serve`` arguments, read by vLLM's own argument parser.

The parser (``make_arg_parser`` on vLLM's ``FlexibleArgumentParser``, then its pre-load
checks) runs in vLLM's cached venv (gateway/model_server/vllm_env.py), the CPU build:
the arguments are the same on a GPU, and no model is loaded.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

import pytest

from tests.helm.rendering import DOCKER_DIR, render_preset
from tests.helm.test_dockerfiles import instructions
from tests.support.vllm_server import vllm_environment

pytestmark = pytest.mark.model


def parse_with_vllm(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``vllm serve``'s parser on ``args`` in vLLM's venv."""
    command = vllm_environment().command("--parse-serve", *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def parsed(args: list[str]) -> dict[str, Any]:
    """The options vLLM reads from ``args``; fails showing vLLM's own message."""
    result = parse_with_vllm(args)
    assert result.returncode == 0, result.stderr[-3000:]
    options: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return options


def vllm_container(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The vLLM container of the GPU preset."""
    deployment = render_preset("gpu", overrides).one("Deployment", "vllm")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_vllm_reads_the_gpu_presets_arguments_as_the_chart_means_them() -> None:
    container = vllm_container()
    assert container["command"] == ["vllm", "serve"]
    options = parsed(container["args"])
    lora = {module["name"]: module["path"] for module in options["lora_modules"]}
    assert options["model_tag"] == "meta-llama/Llama-2-7b-chat-hf"
    assert options["served_model_name"] == ["base"]
    assert options["enable_lora"] is True
    assert lora == {"bpo": "/adapters/bpo", "aligner": "/adapters/aligner"}
    assert (options["max_loras"], options["max_lora_rank"]) == (2, 64)
    assert options["max_model_len"] == 4096
    assert options["gpu_memory_utilization"] == 0.9
    assert options["tensor_parallel_size"] == 1
    assert (options["host"], options["port"]) == ("0.0.0.0", 8000)


def test_vllm_refuses_a_misspelled_extra_argument() -> None:
    # The check is vLLM's strict parser, not a list of names kept here.
    container = vllm_container({"vllm": {"extraArgs": ["--max-lora-ranks", "32"]}})
    result = parse_with_vllm(container["args"])
    assert result.returncode != 0
    assert "unrecognized arguments: --max-lora-ranks" in result.stderr


def test_vllm_reads_the_images_entrypoint_arguments() -> None:
    (entrypoint,) = instructions(DOCKER_DIR / "vllm.Dockerfile", "ENTRYPOINT")
    shell_command = json.loads(entrypoint)[2]
    base_model = next(
        arg.split("=", 1)[1]
        for arg in instructions(DOCKER_DIR / "vllm.Dockerfile", "ARG")
        if arg.startswith("BASE_MODEL=")
    )
    words = shlex.split(shell_command.replace('"$BASE_MODEL"', shlex.quote(base_model)))
    assert words[:3] == ["exec", "vllm", "serve"] and words[-1] == "$@"
    options = parsed(words[3:-1])
    assert options["model_tag"] == base_model
    assert [module["name"] for module in options["lora_modules"]] == ["bpo", "aligner"]
    assert (options["max_loras"], options["max_lora_rank"]) == (2, 64)
