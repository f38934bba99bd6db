"""The ConfigMap's gateway config loads with the gateway's own loader and is wired right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.cli import build_parser
from gateway.config import GatewayConfig, RemoteBackendConfig, load_config
from gateway.engines.config import RemoteEngineConfig, TransformersEngineConfig
from gateway.settings import GatewaySettings
from gateway.startup import embedded_config_path
from gateway.startup_checks import check_engine_files, check_open_mode
from tests.helm.rendering import (
    IMAGE_ADAPTERS,
    NAMESPACE,
    PRESETS,
    REPOSITORY_ADAPTERS,
    Rendered,
    render_preset,
)


def load_rendered_config(rendered: Rendered, tmp_path: Path) -> GatewayConfig:
    """Write the ConfigMap's config.yaml to disk and load it as the gateway would."""
    path = tmp_path / "config.yaml"
    path.write_text(rendered.gateway_config_text(), encoding="utf-8")
    return load_config(path)


def on_this_machine(config: GatewayConfig) -> GatewayConfig:
    """The config with the embedded image's adapter folder mapped to the repository's.

    The image copies gateway/defaults/adapters to IMAGE_ADAPTERS (tests/helm/
    test_dockerfiles.py checks the COPY), so the files the pod reads are these.
    """
    for engine in config.engines.values():
        if isinstance(engine, TransformersEngineConfig):
            engine.adapters = {
                name: path.replace(IMAGE_ADAPTERS, str(REPOSITORY_ADAPTERS), 1)
                for name, path in engine.adapters.items()
            }
    return config


def gateway_args(rendered: Rendered) -> list[str]:
    """The gateway container's command-line arguments."""
    pod = rendered.one("Deployment", "gateway")["spec"]["template"]["spec"]
    args: list[str] = pod["containers"][0]["args"]
    return args


def gateway_env_names(rendered: Rendered) -> set[str]:
    """The environment variables the gateway container gets."""
    pod = rendered.one("Deployment", "gateway")["spec"]["template"]["spec"]
    return {item["name"] for item in pod["containers"][0].get("env") or []}


def test_the_gpu_preset_points_the_stages_at_the_vllm_service(tmp_path: Path) -> None:
    rendered = render_preset("gpu")
    config = load_rendered_config(rendered, tmp_path)
    service = rendered.one("Service", "vllm")
    port = service["spec"]["ports"][0]["port"]
    expected = f"http://{service['metadata']['name']}.{NAMESPACE}.svc.cluster.local:{port}/v1"
    vllm_args: list[str] = rendered.one("Deployment", "vllm")["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    lora_names = {
        module.split("=", 1)[0]
        for module in vllm_args[vllm_args.index("--lora-modules") + 1 :]
        if "=" in module
    }
    assert config.pipeline == ["bpo", "aligner"]
    for name, stage in config.stages.items():
        engine = config.engines[stage.engine]
        assert isinstance(engine, RemoteEngineConfig), name
        assert engine.api_base == expected
        assert engine.model == vllm_args[vllm_args.index("--served-model-name") + 1]
        # The remote engine sends the adapter name as "model"; vLLM must know it.
        assert stage.adapter in lora_names, name


def test_the_embedded_preset_runs_the_stages_in_process(tmp_path: Path) -> None:
    config = load_rendered_config(render_preset("embedded"), tmp_path)
    engine = config.engines["small"]
    assert isinstance(engine, TransformersEngineConfig)
    assert engine.model == "embedded:smollm2"
    for name, stage in config.stages.items():
        assert stage.engine == "small", name
        # An adapter the engine does not load would fail every request of the stage.
        assert stage.adapter is None or stage.adapter in engine.adapters, name
    route = config.route_for("smollm2")
    assert route is not None and route.backend.kind == "engine"


def test_the_embedded_preset_runs_the_shipped_default_with_its_adapters(tmp_path: Path) -> None:
    preset = on_this_machine(load_rendered_config(render_preset("embedded"), tmp_path))
    shipped = load_config(embedded_config_path())
    engine, shipped_engine = preset.engines["small"], shipped.engines["local"]
    assert isinstance(engine, TransformersEngineConfig)
    assert isinstance(shipped_engine, TransformersEngineConfig)
    # The same trained adapters (not the bare model, which answered harmful requests).
    assert {name: Path(path).resolve() for name, path in engine.adapters.items()} == {
        name: Path(path).resolve() for name, path in shipped_engine.adapters.items()
    }
    # The same stages, gate and pipeline as `aligngate serve` with no arguments.
    assert preset.pipeline == shipped.pipeline
    assert preset.gate == shipped.gate
    assert preset.gate.enabled
    for name, stage in shipped.stages.items():
        assert preset.stages[name].model_dump(exclude={"engine"}) == stage.model_dump(
            exclude={"engine"}
        ), name
    check_engine_files(preset)


def test_the_default_values_point_the_stages_at_an_external_server(tmp_path: Path) -> None:
    config = load_rendered_config(render_preset("default"), tmp_path)
    engine = config.engines["small"]
    assert isinstance(engine, RemoteEngineConfig)
    assert engine.api_base == "http://vllm.llm-serving.svc.cluster.local:8000/v1"
    assert config.route_for("any-model") is not None


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_key_variable_the_config_names_is_in_the_gateway_environment(
    preset: str, tmp_path: Path
) -> None:
    rendered = render_preset(preset)
    config = load_rendered_config(rendered, tmp_path)
    named = {
        engine.api_key_env
        for engine in config.engines.values()
        if isinstance(engine, RemoteEngineConfig) and engine.api_key_env
    }
    named |= {env for tenant in config.tenants for env in tenant.api_key_envs}
    backends = [route.backend for route in config.models] + [config.default_backend]
    named |= {
        backend.api_key_env
        for backend in backends
        if isinstance(backend, RemoteBackendConfig) and backend.api_key_env
    }
    assert named <= gateway_env_names(rendered)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_gateway_would_start_on_all_interfaces_with_the_rendered_config(
    preset: str, tmp_path: Path
) -> None:
    rendered = render_preset(preset)
    config = on_this_machine(load_rendered_config(rendered, tmp_path))
    args = gateway_args(rendered)
    settings = GatewaySettings(
        host=args[args.index("--host") + 1],
        port=int(args[args.index("--port") + 1]),
        allow_open_public="--allow-open-public" in args,
    )
    # Raises StartupRefused for open mode on 0.0.0.0 without the explicit flag;
    # the config's tenants are seeded into the store before this check runs.
    check_open_mode(settings, has_tenants=bool(config.tenants))
    # And for an in-process engine whose model or adapters are missing, or a stage
    # naming an adapter its engine does not load.
    check_engine_files(config)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_chart_passes_the_gateway_only_flags_its_cli_accepts(preset: str) -> None:
    parsed = build_parser().parse_args(gateway_args(render_preset(preset)))
    assert parsed.command == "serve"
    assert parsed.metrics_port == 9090 and parsed.docs is False


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"redis": {"enabled": True}, "admin": {"existingSecret": "a"}},
        {"metrics": {"existingSecret": "m"}},
    ],
)
def test_every_aligngate_variable_the_chart_sets_is_a_gateway_setting(
    overrides: dict[str, Any],
) -> None:
    rendered = render_preset("default", overrides)
    prefix = "ALIGNGATE_"
    ours = {name for name in gateway_env_names(rendered) if name.startswith(prefix)}
    assert ours, "the chart sets no ALIGNGATE_ variable"
    for name in ours:
        assert name.removeprefix(prefix).lower() in GatewaySettings.model_fields, name


def test_stages_on_vllm_can_be_gated_by_a_gateway_embedded_image(tmp_path: Path) -> None:
    values = {
        "gateway": {"image": {"repository": "registry.example/aligngate/gateway-embedded"}},
        "gatewayConfig": {"gate": {"enabled": True}, "stages": {"aligner": {"gate": "gated"}}},
    }
    rendered = render_preset("gpu", values)
    config = load_rendered_config(rendered, tmp_path)
    assert config.gate.enabled and config.stages["aligner"].gate == "gated"
    assert isinstance(config.engines[config.stages["aligner"].engine], RemoteEngineConfig)
    pod = rendered.one("Deployment", "gateway")["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"].startswith("registry.example/aligngate/gateway-embedded:")
