"""Reaching the gateway from outside the cluster: an Ingress or a Gateway API HTTPRoute."""

from __future__ import annotations

from typing import Any

import helm_python
import kubernetes_validate
import pytest

from tests.helm.rendering import render
from tests.helm.test_chart import KUBERNETES_VERSIONS


def test_neither_is_rendered_unless_enabled() -> None:
    kinds = render().kinds()
    assert "Ingress" not in kinds and "HTTPRoute" not in kinds


def test_an_ingress_routes_its_hosts_to_the_api_service_only() -> None:
    values = {
        "ingress": {
            "enabled": True,
            "className": "nginx",
            # Streamed answers must not be buffered by the proxy.
            "annotations": {"nginx.ingress.kubernetes.io/proxy-buffering": "off"},
            "hosts": [{"host": "llm.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
            "tls": [{"secretName": "llm-tls", "hosts": ["llm.example.com"]}],
        }
    }
    rendered = render(values)
    ingress = rendered.one("Ingress", "gateway")
    service = rendered.one("Service", "gateway")
    spec: dict[str, Any] = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == values["ingress"]["tls"]
    (rule,) = spec["rules"]
    assert rule["host"] == "llm.example.com"
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {
        "name": service["metadata"]["name"],
        "port": {"name": "http"},
    }
    assert (
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    )
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(ingress, version, strict=True)


def test_an_http_route_attaches_to_the_named_gateway_and_sends_to_the_api_port() -> None:
    values = {
        "httpRoute": {
            "enabled": True,
            "parentRefs": [
                {"name": "public", "namespace": "gateway-system", "sectionName": "https"}
            ],
            "hostnames": ["llm.example.com"],
        }
    }
    rendered = render(values)
    route = rendered.one("HTTPRoute", "gateway")
    service = rendered.one("Service", "gateway")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["metadata"]["namespace"] == "llm"
    assert route["spec"]["parentRefs"] == values["httpRoute"]["parentRefs"]
    assert route["spec"]["hostnames"] == ["llm.example.com"]
    (rule,) = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule["backendRefs"] == [
        {"name": service["metadata"]["name"], "port": service["spec"]["ports"][0]["port"]}
    ]
    assert "timeouts" not in rule
    timed = render({"httpRoute": {**values["httpRoute"], "timeouts": {"request": "600s"}}})
    assert timed.one("HTTPRoute", "gateway")["spec"]["rules"][0]["timeouts"] == {"request": "600s"}


def test_an_http_route_without_a_parent_gateway_fails_the_render() -> None:
    with pytest.raises(helm_python.HelmRenderError, match="httpRoute.parentRefs"):
        render({"httpRoute": {"enabled": True}})


def test_an_ingress_host_needs_paths() -> None:
    with pytest.raises(helm_python.HelmValuesError, match="ingress"):
        render({"ingress": {"enabled": True, "hosts": [{"host": "llm.example.com"}]}})
