"""Hardening checks on every rendered workload, in the spirit of checkov's Kubernetes checks.

checkov itself is not a test dependency: it pins dozens of packages (packaging 23,
boto3, networkx 2) below what the gateway's stack needs. These tests carry the checks
we agree with, named by the checkov ID they mirror. Deliberately not checked:
CKV_K8S_11 (CPU limits: CFS throttling stalls streamed answers; requests drive the
HPA), CKV_K8S_15 (pull policy Always: tags are pinned, and IfNotPresent keeps
restarts independent of the registry), CKV_K8S_35 (secrets as files: the gateway
reads keys from the variables its config names, always from secretKeyRef),
CKV_K8S_43 (image digests: no image is published to pin; `image.digest` pins your
own build), and probes (CKV_K8S_8/9) on the one-shot `helm test` pod.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helm.rendering import MONITORING, PRESETS, Manifest, Rendered, render_preset

EVERYTHING = {
    "redis": {"enabled": True},
    "ingress": {"enabled": True},
    "serviceMonitor": {"enabled": True},
    "metrics": {"existingSecret": "scrape"},
}
# vLLM, torch and triton write caches and compiled kernels in version-dependent places.
WRITABLE_ROOT = {"vllm"}


def workloads(rendered: Rendered) -> Iterator[tuple[str, Manifest, dict[str, Any]]]:
    """(component, object, pod spec) for every Deployment and bare Pod."""
    for obj in rendered.objects:
        component = obj["metadata"]["labels"].get("app.kubernetes.io/component", "")
        if obj["kind"] == "Deployment":
            yield component, obj, obj["spec"]["template"]["spec"]
        elif obj["kind"] == "Pod":
            yield component, obj, obj["spec"]


def containers(rendered: Rendered) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(component, pod spec, container) for every container the chart runs."""
    for component, _, pod in workloads(rendered):
        for each in pod.get("initContainers", []) + pod["containers"]:
            yield component, pod, each


@pytest.fixture(scope="module", params=sorted(PRESETS))
def everything(request: pytest.FixtureRequest) -> Rendered:
    return render_preset(request.param, EVERYTHING, api_versions=MONITORING)


def test_no_pod_shares_the_hosts_namespaces(everything: Rendered) -> None:
    # CKV_K8S_17, CKV_K8S_18, CKV_K8S_19.
    for component, _, pod in workloads(everything):
        for field in ("hostPID", "hostIPC", "hostNetwork"):
            assert not pod.get(field), (component, field)


def test_no_pod_carries_a_service_account_token(everything: Rendered) -> None:
    # CKV_K8S_38: nothing here calls the Kubernetes API.
    for component, _, pod in workloads(everything):
        assert pod["automountServiceAccountToken"] is False, component


def test_every_container_runs_as_a_high_non_root_uid(everything: Rendered) -> None:
    # CKV_K8S_23 / CKV_K8S_6 (non-root), CKV_K8S_40 (uid >= 10000: no clash with host users).
    for component, pod, each in containers(everything):
        context = {**pod.get("securityContext", {}), **each.get("securityContext", {})}
        assert context["runAsNonRoot"] is True, component
        assert context["runAsUser"] >= 10000, component


def test_every_container_is_unprivileged_with_no_capabilities(everything: Rendered) -> None:
    # CKV_K8S_16 (privileged), CKV_K8S_20 (privilege escalation), CKV_K8S_28 and
    # CKV_K8S_37 (drop NET_RAW / ALL), CKV_K8S_25 and CKV_K8S_39 (nothing added).
    for component, _, each in containers(everything):
        context = each["securityContext"]
        assert not context.get("privileged"), component
        assert context["allowPrivilegeEscalation"] is False, component
        assert context["capabilities"]["drop"] == ["ALL"], component
        assert not context["capabilities"].get("add"), component


def test_every_container_has_the_runtime_default_seccomp_profile(everything: Rendered) -> None:
    # CKV_K8S_31.
    for component, pod, each in containers(everything):
        profile = each.get("securityContext", {}).get("seccompProfile") or pod[
            "securityContext"
        ].get("seccompProfile")
        assert profile == {"type": "RuntimeDefault"}, component


def test_root_filesystems_are_read_only_except_vllms(everything: Rendered) -> None:
    # CKV_K8S_22; vLLM is the documented exception.
    for component, _, each in containers(everything):
        expected = component not in WRITABLE_ROOT
        assert each["securityContext"]["readOnlyRootFilesystem"] is expected, component


def test_every_container_requests_cpu_and_memory_and_caps_memory(everything: Rendered) -> None:
    # CKV_K8S_10, CKV_K8S_12, CKV_K8S_13.
    for component, _, each in containers(everything):
        resources = each["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), component
        assert "memory" in resources["limits"], component


def test_every_long_running_container_has_liveness_and_readiness_probes(
    everything: Rendered,
) -> None:
    # CKV_K8S_8, CKV_K8S_9.
    for component, _, each in containers(everything):
        if component == "test":
            continue
        assert "livenessProbe" in each and "readinessProbe" in each, component


def test_every_image_has_a_pinned_tag(everything: Rendered) -> None:
    # CKV_K8S_14.
    for component, _, each in containers(everything):
        name, _, tag = each["image"].rpartition(":")
        assert name and tag and tag != "latest" and "/" not in tag, component


def test_every_pod_is_selected_by_a_network_policy(everything: Rendered) -> None:
    # CKV2_K8S_6, the `helm test` pod included.
    policies = [obj for obj in everything.objects if obj["kind"] == "NetworkPolicy"]
    for component, obj, _ in workloads(everything):
        labels = (
            obj["spec"]["template"]["metadata"]["labels"]
            if obj["kind"] != "Pod"
            else (obj["metadata"]["labels"])
        )
        assert any(
            policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
            for policy in policies
        ), component
