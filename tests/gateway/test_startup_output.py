"""What a starting gateway writes: "ready" once /readyz is green, JSON lines, no bars.

The embedded default used to log "serving" the moment the port opened and then stay
silent for about a minute while it converted and loaded the model, drawing tqdm
progress bars between the JSON lines.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.engines.loading import converted_path
from tests.support.processes import LoggedProcess, aligngate, running_process
from tests.support.servers import free_port


def _lines(process: LoggedProcess) -> list[dict[str, Any]]:
    text = process.log_path.read_text(encoding="utf-8")
    # Every line is one JSON object: a progress bar or a plain print would fail here.
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _events_once_ready(process: LoggedProcess, timeout_s: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        events = [line["event"] for line in _lines(process)]
        if "ready" in events:
            return events
        time.sleep(0.1)
    raise AssertionError(f"no 'ready' line in {process.log_path}")


def _tiny_model(directory: Path) -> Path:
    """A two-layer random Llama with a three-word tokenizer: loads in a second, offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocabulary = {"[UNK]": 0, "</s>": 1, "hi": 2}
    words = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()  # type: ignore[assignment]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]", eos_token="</s>")
    config = LlamaConfig(
        vocab_size=3,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        eos_token_id=1,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_quick_mode_says_ready_and_nothing_but_json(upstream_url: str) -> None:
    port = free_port()
    command = aligngate("serve", "--upstream", upstream_url, "--port", str(port))
    with running_process(command, f"http://127.0.0.1:{port}/readyz") as process:
        events = _events_once_ready(process)
    assert "serving" not in events
    assert events.index("starting") < events.index("ready")


def test_ready_comes_after_the_models_load_and_no_progress_bar_is_drawn(
    tmp_path: Path, upstream_url: str
) -> None:
    model = _tiny_model(tmp_path / "tiny")
    config = {
        "engines": {"small": {"kind": "transformers", "model": str(model)}},
        "models": [
            {"name": "tiny", "backend": {"kind": "openai", "model": "m", "api_base": upstream_url}}
        ],
        "stages": {"bpo": {"kind": "bpo", "engine": "small"}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    command = aligngate("serve", "--config", str(path), "--port", str(port))
    with running_process(
        command, f"http://127.0.0.1:{port}/healthz", env={"ALIGNGATE_STORE": "memory"}
    ) as process:
        events = _events_once_ready(process, timeout_s=120)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    starting = next(line for line in _lines(process) if line["event"] == "starting")
    assert starting["loading"] == ["small"]
    assert events.index("starting") < events.index("engine_loaded") < events.index("ready")
    assert "serving" not in events


def test_one_converted_copy_serves_every_install_of_the_same_model(tmp_path: Path) -> None:
    first, second, other = (tmp_path / name for name in ("venv-a", "venv-b", "venv-c"))
    for directory, content in ((first, b"weights"), (second, b"weights"), (other, b"others")):
        directory.mkdir()
        (directory / "model.gguf").write_bytes(content)
    os.utime(second / "model.gguf", (1_000_000, 1_000_000))  # installed at another time
    cache = tmp_path / "cache"
    paths = [converted_path(d / "model.gguf", cache) for d in (first, second, other)]
    assert paths[0] == paths[1] != paths[2]
    assert paths[0].parent == cache / "gguf"


@pytest.mark.model
def test_the_first_embedded_start_says_it_converts_then_says_ready(
    tmp_path: Path, upstream_url: str
) -> None:
    port = free_port()
    command = aligngate("serve", "--upstream", upstream_url, "--stages", "aligner")
    env = {"ALIGNGATE_CACHE_DIR": str(tmp_path / "cache"), "ALIGNGATE_STORE": "memory"}
    env["ALIGNGATE_PORT"] = str(port)
    with running_process(command, f"http://127.0.0.1:{port}/healthz", env=env) as process:
        events = _events_once_ready(process, timeout_s=600)
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "any", "messages": [{"role": "user", "content": "How do tides work?"}]},
            timeout=300,
        )
    converting = next(line for line in _lines(process) if line["event"] == "model_converting")
    assert "converting the model once (~40 s)" in converting["message"]
    assert events.index("starting") < events.index("model_converting") < events.index("ready")
    assert response.status_code == 200, response.text
    assert response.headers["x-aligngate-stages"].startswith("aligner=")
