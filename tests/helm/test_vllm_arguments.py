"""The chart's and the image's ``vllm serve`` arguments, read by vLLM's own argument parser.

The parser (``make_arg_parser`` on vLLM's ``FlexibleArgumentParser``, then its pre-load
checks) runs in vLLM's cached venv (gateway/model_server/vllm_env.py), the CPU build:
the arguments are the same on a GPU, and no model is loaded.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.helm.rendering import DOCKER_DIR, render_preset
from tests.helm.test_dockerfiles import instructions
from tests.support.vllm_server import vllm_environment

pytestmark = pytest.mark.model


def vllm_container(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The vLLM container of the GPU preset."""
    deployment = render_preset("gpu", overrides).one("Deployment", "vllm")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def entrypoint_arguments() -> tuple[str, list[str]]:
    """The image's base model and the ``vllm serve`` arguments its entrypoint passes."""
    dockerfile = DOCKER_DIR / "vllm.Dockerfile"
    (entrypoint,) = instructions(dockerfile, "ENTRYPOINT")
    shell_command = json.loads(entrypoint)[2]
    base_model = next(
        arg.split("=", 1)[1]
        for arg in instructions(dockerfile, "ARG")
        if arg.startswith("BASE_MODEL=")
    )
    words = shlex.split(shell_command.replace('"$BASE_MODEL"', shlex.quote(base_model)))
    assert words[:3] == ["exec", "vllm", "serve"] and words[-1] == "$@"
    return base_model, words[3:-1]


def misspelled_extra_argument() -> list[str]:
    """The GPU preset's arguments with a misspelled ``extraArgs`` entry."""
    container = vllm_container({"vllm": {"extraArgs": ["--max-lora-ranks", "32"]}})
    args: list[str] = container["args"]
    return args


CASES: dict[str, Callable[[], list[str]]] = {
    "gpu-preset": lambda: vllm_container()["args"],
    "misspelled-extra": misspelled_extra_argument,
    "image-entrypoint": lambda: entrypoint_arguments()[1],
}


@pytest.fixture(scope="module")
def read_by_vllm() -> dict[str, dict[str, Any]]:
    """What vLLM's parser made of each case's arguments, in one vLLM process."""
    names = list(CASES)
    command = vllm_environment().command("--parse-serve")
    stdin = json.dumps([CASES[name]() for name in names])
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    return dict(zip(names, outcomes, strict=True))


def test_vllm_reads_the_gpu_presets_arguments_as_the_chart_means_them(
    read_by_vllm: dict[str, dict[str, Any]],
) -> None:
    assert vllm_container()["command"] == ["vllm", "serve"]
    options = read_by_vllm["gpu-preset"]["options"]
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


def test_vllm_refuses_a_misspelled_extra_argument(
    read_by_vllm: dict[str, dict[str, Any]],
) -> None:
    # The check is vLLM's strict parser, not a list of names kept here.
    outcome = read_by_vllm["misspelled-extra"]
    assert "options" not in outcome
    assert "unrecognized arguments: --max-lora-ranks" in outcome["error"]


def test_vllm_reads_the_images_entrypoint_arguments(
    read_by_vllm: dict[str, dict[str, Any]],
) -> None:
    base_model, _ = entrypoint_arguments()
    options = read_by_vllm["image-entrypoint"]["options"]
    assert options["model_tag"] == base_model
    assert [module["name"] for module in options["lora_modules"]] == ["bpo", "aligner"]
    assert (options["max_loras"], options["max_lora_rank"]) == (2, 64)
