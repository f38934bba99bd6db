"""Choosing what to serve at start-up: quick mode, and the shipped stages in front of it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from gateway.settings import GatewaySettings
from gateway.startup import resolve_config
from gateway.startup_checks import StartupRefused
from tests.support.gateway import running_gateway
from tests.support.processes import aligngate
from tests.support.scripted_engine import ScriptedEngine
from tests.support.upstream import UpstreamScript

CORRECTION = "A careful, corrected answer."


def test_quick_mode_runs_no_stages() -> None:
    config = resolve_config(GatewaySettings(upstream="http://127.0.0.1:9/v1"))
    assert config.stages == {} and config.pipeline == [] and config.engines == {}
    assert config.default_backend is not None


def test_stages_put_the_shipped_stages_in_front_of_the_upstream() -> None:
    config = resolve_config(GatewaySettings(upstream="http://127.0.0.1:9/v1", stages="aligner"))
    assert config.pipeline == ["aligner"]
    assert config.default_backend is not None
    assert config.default_backend.api_base == "http://127.0.0.1:9/v1"  # type: ignore[union-attr]
    assert config.models == []  # every model name goes upstream, through the stages
    aligner = config.stages["aligner"]
    assert (aligner.adapter, aligner.on_failure, aligner.gate) == ("aligner", "closed", "gated")
    assert config.gate.enabled
    adapter = Path(config.engines[aligner.engine].adapters["aligner"])  # type: ignore[union-attr]
    assert (adapter / "adapter_config.json").is_file()
    # Forwarded unchanged, a text completion or a response would skip the Aligner.
    assert "completions" not in config.passthrough and "responses" not in config.passthrough


def test_stages_choose_the_pipeline_of_a_config_too() -> None:
    config = resolve_config(GatewaySettings(stages="bpo, aligner"))
    assert config.pipeline == ["bpo", "aligner"]
    assert resolve_config(GatewaySettings(stages="none")).pipeline == []


def test_an_unknown_stage_is_refused_with_the_names_that_exist() -> None:
    with pytest.raises(StartupRefused, match=r"'alinger'.*aligner.*bpo"):
        resolve_config(GatewaySettings(upstream="http://127.0.0.1:9/v1", stages="alinger"))


def test_the_upstream_answer_goes_through_the_chosen_stage(
    upstream: UpstreamScript, upstream_url: str
) -> None:
    config = resolve_config(GatewaySettings(upstream=upstream_url, stages="aligner"))
    # The engine and the gate are the embedded model's; scripted here, the gate left out.
    config.gate.enabled = False
    config.stages["aligner"].gate = "always"
    engines = {name: ScriptedEngine([CORRECTION], repeat=True) for name in config.engines}
    with running_gateway(config, engines) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
            timeout=30,
        )
        text = httpx.post(
            f"{url}/v1/completions", json={"model": "gpt-4o-mini", "prompt": "Hi"}, timeout=30
        )
    assert response.status_code == 200, response.text
    assert response.headers["x-aligngate-stages"] == "aligner=corrected"
    assert response.json()["choices"][0]["message"]["content"] == CORRECTION
    assert upstream.requests[0]["model"] == "gpt-4o-mini"
    # Not forwarded unchanged as in quick mode: the legacy route runs the stage too.
    assert text.status_code == 200, text.text
    assert text.headers["x-aligngate-stages"] == "aligner=corrected"
    assert text.json()["choices"][0]["text"] == CORRECTION


def test_stages_on_the_command_line_reach_the_settings() -> None:
    result = subprocess.run(
        aligngate("serve", "--upstream", "http://127.0.0.1:9/v1", "--stages", "nope"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nope" in result.stderr and "aligner" in result.stderr
    assert "Traceback" not in result.stderr
