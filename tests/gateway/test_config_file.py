"""A broken config file stops ``aligngate serve`` with one line that says where and what.

Each case runs the real command; an operator reading a crash-looping pod's log
must see the file, the line and the field, not a Python traceback, and a
supervisor must see exit status 2 (a usage error, not a crash).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from gateway.config import GatewayConfig, OpenAIBackendConfig
from tests.support.processes import ROOT, python_module
from tests.support.servers import free_port

BAD_CONFIGS = {
    # A flow mapping left open on line 3.
    "yaml_typo": "models:\n  - name: m\n    backend: {kind: litellm, model: openai/m\n",
    "unknown_key": (
        "models:\n  - name: m\n    backend:\n      kind: litellm\n      modle: openai/m\n"
    ),
    "wrong_type": "models:\n  - name: m\n    backend: {kind: litellm, model: [a, b]}\n",
    "missing_field": "stages:\n  bpo:\n    kind: bpo\n",
    "not_a_mapping": "- just\n- a list\n",
    "duplicate_key": "pipeline: []\ntenants: []\npipeline: [bpo]\n",
    "litellm_style": (
        "model_list:\n"
        "  - model_name: gpt-4o\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o\n"
        "      api_base: https://api.openai.com/v1\n"
        "      api_key: os.environ/OPENAI_API_KEY\n"
    ),
}


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``aligngate serve ARGS`` as a process that is expected to refuse to start."""
    command = python_module("gateway", "serve", "--port", str(free_port()), *args)
    return subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"ALIGNGATE_STORE": "memory", "PATH": "/usr/bin:/bin", **(env or {})},
    )


def the_one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal: exit status 2 and a single line on stderr, without a traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aligngate: "), lines[0]
    return lines[0]


def write_config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(BAD_CONFIGS[name], encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "line", "field"),
    [
        ("yaml_typo", 3, None),
        ("unknown_key", 5, "models[0].backend.modle"),
        ("wrong_type", 3, "models[0].backend.model"),
        ("missing_field", 2, "stages.bpo.engine"),
        ("not_a_mapping", 1, None),
        ("duplicate_key", 3, "pipeline"),
    ],
)
def test_a_config_mistake_is_one_line_naming_file_line_and_field(
    tmp_path: Path, name: str, line: int, field: str | None
) -> None:
    path = write_config(tmp_path, name)
    message = the_one_line(serve("--config", str(path)))
    assert str(path) in message
    assert f"line {line}" in message
    if field is not None:
        assert field in message


def test_a_misspelt_key_gets_the_right_spelling(tmp_path: Path) -> None:
    message = the_one_line(serve("--config", str(write_config(tmp_path, "unknown_key"))))
    assert message.endswith("models[0].backend.modle: unknown key; did you mean 'model'?")


def test_a_litellm_style_model_list_gets_the_aligngate_spelling(tmp_path: Path) -> None:
    message = the_one_line(serve("--config", str(write_config(tmp_path, "litellm_style"))))
    assert "line 1" in message and "model_list" in message
    assert "LiteLLM" in message
    # The hint is the first entry rewritten in aligngate's form, ready to paste.
    pasted = GatewayConfig.model_validate(yaml.safe_load(message.split("e.g. ", 1)[1]))
    route = pasted.models[0]
    assert route.name == "gpt-4o"
    assert isinstance(route.backend, OpenAIBackendConfig)
    assert route.backend.model == "gpt-4o"
    assert route.backend.api_base == "https://api.openai.com/v1"
    assert route.backend.api_key_env == "OPENAI_API_KEY"


def test_a_literal_litellm_key_is_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    secret = "sk-literal-secret-in-config"
    text = BAD_CONFIGS["litellm_style"].replace("os.environ/OPENAI_API_KEY", secret)
    path.write_text(text, encoding="utf-8")
    message = the_one_line(serve("--config", str(path)))
    assert secret not in message and "api_key_env" in message


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    message = the_one_line(serve("--config", str(path)))
    assert str(path) in message and "not found" in message


def test_a_config_that_is_a_directory_or_not_text_is_one_line(tmp_path: Path) -> None:
    assert str(tmp_path) in the_one_line(serve("--config", str(tmp_path)))
    binary = tmp_path / "config.yaml"
    binary.write_bytes(b"models: \xff\xfe\n")
    assert str(binary) in the_one_line(serve("--config", str(binary)))


def test_a_bad_setting_names_its_variable(tmp_path: Path) -> None:
    message = the_one_line(serve(env={"ALIGNGATE_MAX_CONCURRENCY": "lots"}))
    assert "ALIGNGATE_MAX_CONCURRENCY" in message


def test_a_cross_reference_mistake_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("pipeline: [bpo]\n", encoding="utf-8")
    message = the_one_line(serve("--config", str(path)))
    assert str(path) in message and "unknown stage 'bpo'" in message
    assert "Value error" not in message
