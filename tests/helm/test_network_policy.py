"""NetworkPolicies: who may reach the API, /metrics, vLLM and Redis, and where the gateway may go.

A small reading of NetworkPolicy rules (label selectors within the release's namespace)
answers "may pod X open port P on pod Y", so the tests state the promises directly.
"""

from __future__ import annotations

from typing import Any

from tests.helm.rendering import Manifest, Rendered, render, render_preset

# Labels of a pod in the release namespace that is not part of the release.
STRANGER = {"app": "somebody-else"}
OUTSIDE = "203.0.113.7/32"  # an address outside the cluster (TEST-NET-3)


def pod_labels(rendered: Rendered, component: str) -> dict[str, str]:
    """The labels on a component's pods."""
    labels: dict[str, str] = rendered.one("Deployment", component)["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


def policies_for(rendered: Rendered, labels: dict[str, str]) -> list[Manifest]:
    """The NetworkPolicies whose podSelector selects pods with ``labels``."""
    return [
        policy
        for policy in rendered.objects
        if policy["kind"] == "NetworkPolicy"
        and policy["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
    ]


def _peer_matches(peer: dict[str, Any], source: dict[str, str] | str) -> bool:
    if isinstance(source, str):  # an address outside the cluster
        return "ipBlock" in peer and peer["ipBlock"]["cidr"] in ("0.0.0.0/0", source)
    if "ipBlock" in peer:
        return False
    selector = peer.get("podSelector", {}).get("matchLabels", {})
    # A namespaceSelector alone (any namespace) admits every pod; ours are in-namespace.
    return bool(selector.items() <= source.items())


def may_connect(
    rendered: Rendered, source: dict[str, str] | str, target: dict[str, str], port: int
) -> bool:
    """Whether ``source`` (pod labels, or an outside address) may open ``port`` on ``target``."""
    selected = [p for p in policies_for(rendered, target) if "Ingress" in p["spec"]["policyTypes"]]
    if not selected:
        return True
    for policy in selected:
        for rule in policy["spec"].get("ingress") or []:
            ports = [entry["port"] for entry in rule.get("ports") or []]
            if ports and port not in ports:
                continue
            peers = rule.get("from")
            if not peers or any(_peer_matches(peer, source) for peer in peers):
                return True
    return False


def test_every_pod_the_chart_runs_has_a_network_policy() -> None:
    # checkov CKV2_K8S_6.
    rendered = render_preset("gpu", {"redis": {"enabled": True}})
    for component in ("gateway", "vllm", "redis"):
        assert policies_for(rendered, pod_labels(rendered, component)), component


def test_the_api_is_open_and_metrics_stay_inside_the_cluster() -> None:
    rendered = render()
    gateway = pod_labels(rendered, "gateway")
    assert may_connect(rendered, OUTSIDE, gateway, 8000)
    assert may_connect(rendered, STRANGER, gateway, 8000)
    # /metrics names every tenant: in-cluster scrapers only, never the outside.
    assert may_connect(rendered, STRANGER, gateway, 9090)
    assert not may_connect(rendered, OUTSIDE, gateway, 9090)
    assert not may_connect(rendered, OUTSIDE, gateway, 1234)


def test_api_sources_can_be_narrowed_and_the_helm_test_still_reaches_the_gateway() -> None:
    clients = [{"podSelector": {"matchLabels": {"role": "llm-client"}}}]
    rendered = render({"networkPolicy": {"apiFrom": clients}})
    gateway = pod_labels(rendered, "gateway")
    assert may_connect(rendered, {"role": "llm-client"}, gateway, 8000)
    assert not may_connect(rendered, STRANGER, gateway, 8000)
    assert not may_connect(rendered, OUTSIDE, gateway, 8000)
    tester = rendered.one("Pod", "test")["metadata"]["labels"]
    assert may_connect(rendered, tester, gateway, 8000)
    unscraped = render({"networkPolicy": {"metricsFrom": []}})
    assert not may_connect(unscraped, STRANGER, pod_labels(unscraped, "gateway"), 9090)
    assert may_connect(unscraped, tester, pod_labels(unscraped, "gateway"), 9090)


def test_only_the_gateway_reaches_redis_and_redis_reaches_nothing() -> None:
    rendered = render({"redis": {"enabled": True}})
    redis = pod_labels(rendered, "redis")
    assert may_connect(rendered, pod_labels(rendered, "gateway"), redis, 6379)
    assert not may_connect(rendered, STRANGER, redis, 6379)
    (policy,) = policies_for(rendered, redis)
    assert "Egress" in policy["spec"]["policyTypes"] and not policy["spec"].get("egress")


def test_vllm_takes_requests_from_the_gateway_and_in_cluster_scrapers_only() -> None:
    rendered = render_preset("gpu")
    vllm = pod_labels(rendered, "vllm")
    assert may_connect(rendered, pod_labels(rendered, "gateway"), vllm, 8000)
    assert not may_connect(rendered, OUTSIDE, vllm, 8000)
    narrowed = render_preset("gpu", {"networkPolicy": {"metricsFrom": []}})
    assert not may_connect(narrowed, STRANGER, pod_labels(narrowed, "vllm"), 8000)


def test_restricted_egress_allows_dns_the_release_and_the_listed_upstreams_only() -> None:
    provider = {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
        "ports": [{"port": 443, "protocol": "TCP"}],
    }
    values = {"networkPolicy": {"egress": {"restrict": True, "extraRules": [provider]}}}
    rendered = render_preset("gpu", {**values, "redis": {"enabled": True}})
    (policy,) = [
        p
        for p in policies_for(rendered, pod_labels(rendered, "gateway"))
        if "Egress" in p["spec"]["policyTypes"]
    ]
    rules: list[dict[str, Any]] = policy["spec"]["egress"]
    ports = [{entry["port"] for entry in rule["ports"]} for rule in rules]
    assert {53} in ports and provider in rules
    targets = [peer.get("podSelector", {}).get("matchLabels") for r in rules for peer in r["to"]]
    assert pod_labels(rendered, "vllm") in targets and pod_labels(rendered, "redis") in targets
    assert len(rules) == 4
    unrestricted = render_preset("gpu")
    for policy in policies_for(unrestricted, pod_labels(unrestricted, "gateway")):
        assert "Egress" not in policy["spec"]["policyTypes"]


def test_network_policies_can_be_turned_off() -> None:
    rendered = render_preset("gpu", {"networkPolicy": {"enabled": False}})
    assert "NetworkPolicy" not in rendered.kinds()
