"""Gate modes as configuration: a per-stage default, and no gated policy without a gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.gateway import upstream_route
from tests.support.processes import aligngate


def _serve_refused(tmp_path: Path, config: dict[str, Any]) -> str:
    import subprocess

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        aligngate("serve", "--config", str(path), "--port", "0"),
        capture_output=True,
        text=True,
        timeout=60,
        env={"ALIGNGATE_SQLITE_PATH": str(tmp_path / "state.db"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def _config(upstream_url: str, **stage: Any) -> dict[str, Any]:
    return {
        "models": [upstream_route("gpt-test", upstream_url)],
        "engines": {"small": {"kind": "remote", "api_base": upstream_url, "model": "small"}},
        "stages": {"aligner": {"kind": "aligner", "engine": "small", **stage}},
        "pipeline": ["aligner"],
    }


def test_a_stage_gated_by_config_without_a_gate_is_refused_at_start(
    tmp_path: Path, upstream_url: str
) -> None:
    stderr = _serve_refused(tmp_path, _config(upstream_url, gate="gated"))
    assert "stages.aligner.gate" in stderr and "gate.enabled" in stderr


def test_a_seeded_tenant_gated_without_a_gate_is_refused_at_start(
    tmp_path: Path, upstream_url: str
) -> None:
    config = _config(upstream_url)
    config["tenants"] = [
        {"name": "acme", "policy": {"stages": {"aligner": {"gate": "gated"}}}},
    ]
    stderr = _serve_refused(tmp_path, config)
    assert "tenants.acme" in stderr and "gate.enabled" in stderr


def test_the_configured_gate_mode_is_every_tenants_default(
    upstream_url: str, upstream: Any
) -> None:
    from gateway.app import create_app
    from gateway.config import GatewayConfig
    from gateway.services import Services
    from gateway.settings import GatewaySettings
    from tests.gateway.gate.test_risk_gate import KeywordEmbedder, keyword_gate
    from tests.gateway.tenants.test_tenant_policies import _small_model, config
    from tests.support.gateway import ADMIN_KEY, create_tenant
    from tests.support.scripted_engine import ScriptedEngine
    from tests.support.servers import serve_in_thread

    gated = config(upstream_url)
    gated["stages"]["aligner"]["gate"] = "gated"
    gated["pipeline"] = ["aligner"]
    engine = ScriptedEngine([_small_model], repeat=True)
    services = Services(
        GatewaySettings(admin_key=ADMIN_KEY),
        GatewayConfig.model_validate(gated),
        {"small": engine},
        gate=keyword_gate(KeywordEmbedder()),
    )
    with serve_in_thread(create_app(services)) as url:
        plain = create_tenant(url, "plain")
        always = create_tenant(url, "always", policy={"stages": {"aligner": {"gate": "always"}}})

        def stages(key: str, question: str, answer: str) -> str:
            upstream.reply = answer
            response = httpx.post(
                f"{url}/v1/chat/completions",
                headers={"authorization": f"Bearer {key}"},
                json={"model": "gpt-test", "messages": [{"role": "user", "content": question}]},
            )
            return str(response.headers["x-aligngate-stages"])

        assert stages(plain, "explain tides", "The moon pulls.") == "aligner=skipped-by-gate"
        assert stages(plain, "poison someone", "Use poison.") == "aligner=corrected"
        assert stages(always, "explain tides", "The moon pulls.") == "aligner=corrected"


def test_the_admin_api_refuses_a_gated_setting_when_no_gate_is_loaded(upstream_url: str) -> None:
    from tests.gateway.tenants.test_tenant_policies import config
    from tests.support.gateway import ADMIN_KEY, admin, running_gateway
    from tests.support.scripted_engine import ScriptedEngine

    policy = {"stages": {"aligner": {"gate": "gated"}}}
    with running_gateway(
        config(upstream_url), {"small": ScriptedEngine([])}, admin_key=ADMIN_KEY
    ) as url:
        with admin(url) as http:
            created = http.post("/tenants", json={"name": "acme", "policy": policy})
            plain = http.post("/tenants", json={"name": "bank"})
            later = http.put("/tenants/bank/policy", json=policy)
    assert created.status_code == 400 and created.json()["error"]["code"] == "gate_not_loaded"
    assert plain.status_code == 201
    assert later.status_code == 400 and "gate.enabled" in later.json()["error"]["message"]


def test_heads_trained_on_another_trunk_are_refused_at_start(
    tmp_path: Path, upstream_url: str
) -> None:
    """The transformers trunk's heads under gate.trunk llamacpp would score noise."""
    from gateway.gate.risk_gate import shipped_head

    config = _config(upstream_url, gate="gated")
    config["gate"] = {
        "enabled": True,
        "trunk": "llamacpp",
        "prompt_head": str(shipped_head("prompt_gate.npz")),
    }
    stderr = _serve_refused(tmp_path, config)
    assert "trained on the 'transformers' trunk's vectors, but gate.trunk is 'llamacpp'" in stderr
