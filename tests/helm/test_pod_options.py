"""Pod options users set without forking the chart: volumes, envFrom, graceful stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest

from gateway.engines.config import TransformersEngineConfig
from tests.helm.rendering import Rendered, render, render_preset
from tests.helm.test_chart import KUBERNETES_VERSIONS, container, pod_spec
from tests.helm.test_gateway_config import load_rendered_config

ADAPTER_VOLUME = {"name": "adapters", "persistentVolumeClaim": {"claimName": "my-adapters"}}
ADAPTER_MOUNT = {"name": "adapters", "mountPath": "/adapters/mine", "readOnly": True}


def assert_valid(rendered: Rendered) -> None:
    """Every object passes the Kubernetes schemas of the oldest and newest version."""
    for obj in rendered.objects:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_adapters_on_a_volume_reach_the_embedded_engine(tmp_path: Path) -> None:
    values = {
        "gateway": {"extraVolumes": [ADAPTER_VOLUME], "extraVolumeMounts": [ADAPTER_MOUNT]},
        "smallModels": {"embedded": {"adapters": {"aligner-v2": "/adapters/mine/aligner-v2"}}},
        "gatewayConfig": {"stages": {"aligner": {"adapter": "aligner-v2"}}},
    }
    rendered = render_preset("embedded", values)
    assert ADAPTER_VOLUME in pod_spec(rendered, "gateway")["volumes"]
    assert ADAPTER_MOUNT in container(rendered, "gateway")["volumeMounts"]
    config = load_rendered_config(rendered, tmp_path)
    engine = config.engines["small"]
    assert isinstance(engine, TransformersEngineConfig)
    assert engine.adapters["aligner-v2"] == "/adapters/mine/aligner-v2"
    assert config.stages["aligner"].adapter == "aligner-v2"
    assert_valid(rendered)


def test_vllm_serves_lora_modules_from_a_mounted_volume() -> None:
    values = {
        "vllm": {
            "extraVolumes": [ADAPTER_VOLUME],
            "extraVolumeMounts": [ADAPTER_MOUNT],
            "loraModules": [{"name": "bpo", "path": "/adapters/mine/bpo"}],
        }
    }
    rendered = render_preset("gpu", values)
    assert ADAPTER_VOLUME in pod_spec(rendered, "vllm")["volumes"]
    assert ADAPTER_MOUNT in container(rendered, "vllm")["volumeMounts"]
    assert "bpo=/adapters/mine/bpo" in container(rendered, "vllm")["args"]
    assert_valid(rendered)


def test_a_volume_mount_must_name_a_volume() -> None:
    with pytest.raises(helm_python.HelmValuesError, match="extraVolumeMounts"):
        render({"gateway": {"extraVolumeMounts": [{"mountPath": "/adapters"}]}})


def test_env_from_takes_whole_secrets_and_config_maps() -> None:
    sources = [
        {"secretRef": {"name": "provider-keys"}},
        {"configMapRef": {"name": "proxy-settings", "optional": True}, "prefix": "PROXY_"},
    ]
    rendered = render({"gateway": {"envFrom": sources}})
    assert container(rendered, "gateway")["envFrom"] == sources
    assert "envFrom" not in container(render(), "gateway")
    assert_valid(rendered)
    with pytest.raises(helm_python.HelmValuesError, match="envFrom"):
        render({"gateway": {"envFrom": [{"secretRef": {"name": "k"}, "value": "sk-plain"}]}})


@pytest.mark.parametrize("component", ["gateway", "vllm"])
def test_pods_wait_before_stopping_so_no_new_request_is_cut(component: str) -> None:
    # Endpoints are removed from Services while SIGTERM is delivered; without a pause
    # the load balancer still sends new requests to a pod that has begun closing.
    rendered = render_preset("gpu")
    pod = pod_spec(rendered, component)
    pre_stop: dict[str, Any] = container(rendered, component)["lifecycle"]["preStop"]
    command = pre_stop["exec"]["command"]
    assert command[0] == "sleep" and 0 < int(command[1]) < pod["terminationGracePeriodSeconds"]


def test_a_pre_stop_pause_longer_than_the_grace_period_fails_the_render() -> None:
    too_long = {"gateway": {"preStopSleepSeconds": 60, "terminationGracePeriodSeconds": 30}}
    with pytest.raises(helm_python.HelmRenderError, match="preStopSleepSeconds"):
        render(too_long)
    assert "lifecycle" not in container(render({"gateway": {"preStopSleepSeconds": 0}}), "gateway")


def test_images_can_be_pinned_by_digest() -> None:
    digest = "sha256:" + "ab" * 32
    rendered = render_preset("gpu", {"gateway": {"image": {"digest": digest}}})
    assert container(rendered, "gateway")["image"] == f"aligngate/gateway:0.1.0@{digest}"
    assert rendered.one("Pod", "test")["spec"]["containers"][0]["image"].endswith(digest)
    assert "@" not in container(rendered, "vllm")["image"]
    with pytest.raises(helm_python.HelmValuesError, match="digest"):
        render({"gateway": {"image": {"digest": "latest"}}})
