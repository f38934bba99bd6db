"""Render the aligngate chart with the real Helm engine and pick objects out of it.

The Helm engine is the Go Helm SDK (v4) that the ``helm-python-sdk`` package ships
as a shared library, so rendering needs no helm binary, no cluster and no network.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import yaml
from helm_python import _native

CHART_DIR = Path(__file__).resolve().parents[2] / "helm" / "aligngate"
DOCKER_DIR = CHART_DIR.parent / "docker"
# Where the embedded image puts the shipped LoRA adapters, and where they come from.
IMAGE_ADAPTERS = "/opt/aligngate/adapters"
REPOSITORY_ADAPTERS = CHART_DIR.parents[1] / "gateway" / "defaults" / "adapters"
RELEASE = "aligngate"
NAMESPACE = "llm"
PRESETS: dict[str, str | None] = {
    "default": None,
    "gpu": "values-gpu.yaml",
    "embedded": "values-embedded.yaml",
}

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """The objects one ``helm template`` produced, plus NOTES.txt."""

    objects: list[Manifest]
    notes: str

    def kinds(self) -> list[str]:
        """Every rendered object's kind, in render order."""
        return [obj["kind"] for obj in self.objects]

    def one(self, kind: str, component: str | None = None) -> Manifest:
        """The single object of ``kind`` (and component label); fails if not exactly one."""
        found = [obj for obj in self.objects if obj["kind"] == kind and _is(obj, component)]
        assert len(found) == 1, f"expected one {kind} {component or ''}, found {len(found)}"
        return found[0]

    def gateway_config_text(self) -> str:
        """The gateway's YAML config file as the ConfigMap carries it."""
        config_map = self.one("ConfigMap", "gateway")
        text: str = config_map["data"]["config.yaml"]
        return text


def _is(obj: Manifest, component: str | None) -> bool:
    if component is None:
        return True
    labels = obj.get("metadata", {}).get("labels", {})
    return bool(labels.get("app.kubernetes.io/component") == component)


def preset_values(preset: str) -> dict[str, Any]:
    """The values of a preset file (empty for the chart's defaults)."""
    filename = PRESETS[preset]
    if filename is None:
        return {}
    return helm_python.values_from_yaml((CHART_DIR / filename).read_text(encoding="utf-8"))


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, as a second ``-f`` file would apply."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# The API a cluster with the Prometheus Operator serves (`helm template --api-versions`).
MONITORING = ("monitoring.coreos.com/v1",)


def render(
    values: dict[str, Any] | None = None,
    *,
    api_versions: Sequence[str] = (),
    kube_version: str | None = None,
) -> Rendered:
    """Render the chart as ``helm install`` would, validating values against the schema.

    ``api_versions`` are the extra APIs the cluster serves (``.Capabilities``), and
    ``kube_version`` its version, as ``helm template --api-versions / --kube-version``
    set them; the SDK's render takes both, though its Python wrapper does not pass them.
    """
    options: dict[str, Any] = {"name": RELEASE, "namespace": NAMESPACE, "is_install": True}
    if api_versions:
        options["api_versions"] = list(api_versions)
    if kube_version is not None:
        options["kube_version"] = kube_version
    with helm_python.Chart.load(CHART_DIR) as chart:
        payload = json.dumps(values or {})
        rendered = _native.call_string("helm_render", chart._raw(), payload, json.dumps(options))
    manifests: dict[str, str] = json.loads(rendered)
    objects: list[Manifest] = []
    notes = ""
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return Rendered(objects=objects, notes=notes)


def render_preset(
    preset: str,
    overrides: dict[str, Any] | None = None,
    *,
    api_versions: Sequence[str] = (),
    kube_version: str | None = None,
) -> Rendered:
    """Render a preset, optionally with more values layered on top."""
    values = deep_merge(preset_values(preset), overrides or {})
    return render(values, api_versions=api_versions, kube_version=kube_version)
