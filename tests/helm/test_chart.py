"""The chart renders with real Helm into objects Kubernetes accepts, and bad values fail."""

from __future__ import annotations

from typing import Any

import helm_python
import kubernetes_validate
import pytest

from tests.helm.rendering import MONITORING, PRESETS, Manifest, Rendered, render, render_preset

# The oldest version the chart declares (Chart.yaml kubeVersion) and the newest
# schema kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.25.0", "1.37.0"]
# CRDs have no schema in kubernetes-validate; the API server validates them against
# the installed CRD (Prometheus Operator, Gateway API) when they are applied.
CUSTOM_KINDS = {"ServiceMonitor", "HTTPRoute"}


def pod_spec(rendered: Rendered, component: str) -> dict[str, Any]:
    """The pod template spec of a component's Deployment."""
    spec: dict[str, Any] = rendered.one("Deployment", component)["spec"]["template"]["spec"]
    return spec


def container(rendered: Rendered, component: str) -> dict[str, Any]:
    """The first container of a component's Deployment."""
    first: dict[str, Any] = pod_spec(rendered, component)["containers"][0]
    return first


def env_of(rendered: Rendered, component: str) -> dict[str, dict[str, Any]]:
    """A container's environment by variable name."""
    return {item["name"]: item for item in container(rendered, component).get("env") or []}


def stage(**settings: Any) -> dict[str, Any]:
    """A BPO stage on the chart's small-models engine, with ``settings`` on top."""
    return {"kind": "bpo", "engine": "small", **settings}


@pytest.fixture(scope="module", params=sorted(PRESETS))
def preset(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def rendered(preset: str) -> Rendered:
    return render_preset(preset, api_versions=MONITORING)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_kubernetes(rendered: Rendered, version: str) -> None:
    checked = 0
    for obj in rendered.objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {exc.message}")
        checked += 1
    assert checked >= 4


def test_presets_render_the_components_they_promise() -> None:
    default, gpu, embedded = (
        render_preset(name, api_versions=MONITORING) for name in ("default", "gpu", "embedded")
    )
    assert sorted(default.kinds()) == [
        "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy",
        "NetworkPolicy", "Pod", "PodDisruptionBudget", "Service", "Service", "ServiceAccount",
    ]  # fmt: skip
    gpu.one("Deployment", "vllm")
    gpu.one("Service", "vllm")
    gpu.one("PersistentVolumeClaim", "vllm")
    assert gpu.kinds().count("ServiceMonitor") == 2
    assert "HorizontalPodAutoscaler" not in embedded.kinds()
    assert [obj for obj in embedded.objects if _component(obj) == "vllm"] == []


def _component(obj: Manifest) -> str | None:
    labels = obj["metadata"].get("labels", {})
    component: str | None = labels.get("app.kubernetes.io/component")
    return component


@pytest.mark.parametrize(
    ("bad_values", "complaint"),
    [
        ({"gateway": {"replicas": "many"}}, "/gateway/replicas"),
        ({"gateway": {"replicas": 0}}, "/gateway/replicas"),
        ({"gatewy": {"replicas": 2}}, "gatewy"),
        ({"smallModels": {"mode": "gpu"}}, "/smallModels/mode"),
        ({"gateway": {"image": {"pullPolicy": "Sometimes"}}}, "/gateway/image/pullPolicy"),
        ({"vllm": {"tensorParallelSize": 0}}, "/vllm/tensorParallelSize"),
        (
            {"gateway": {"secretEnv": [{"name": "KEY", "value": "sk-plain"}]}},
            "/gateway/secretEnv/0",
        ),
        ({"gatewayConfig": {"stages": {"bpo": stage(on_failure="maybe")}}}, "on_failure"),
        ({"gatewayConfig": {"engines": {"small": {"kind": "remote"}}}}, "small"),
        ({"redis": {"url": "localhost:6379"}}, "/redis/url"),
        ({"metrics": {"port": 70000}}, "/metrics/port"),
        ({"gateway": {"docs": "yes"}}, "/gateway/docs"),
    ],
)
def test_bad_values_are_rejected_by_the_schema_at_render_time(
    bad_values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="schema") as raised:
        render(bad_values)
    assert complaint in str(raised.value)


def test_more_min_than_max_autoscaled_replicas_fails_the_render() -> None:
    with pytest.raises(helm_python.HelmRenderError, match="minReplicas must not exceed"):
        render({"gateway": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}})


def test_a_shared_model_cache_claim_for_several_vllm_replicas_must_be_read_write_many() -> None:
    with pytest.raises(helm_python.HelmRenderError, match="ReadWriteMany"):
        render_preset("gpu", {"vllm": {"replicas": 2}})
    shared = {"replicas": 2, "modelCache": {"accessMode": "ReadWriteMany"}}
    scaled = render_preset("gpu", {"vllm": shared})
    assert scaled.one("Deployment", "vllm")["spec"]["replicas"] == 2


def test_the_gateway_is_probed_on_healthz_and_readyz(rendered: Rendered) -> None:
    gateway = container(rendered, "gateway")
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["args"][:3] == ["serve", "--config", "/etc/aligngate/config.yaml"]
    assert {"requests", "limits"} <= set(gateway["resources"])


def test_every_pod_runs_as_a_non_root_user(rendered: Rendered) -> None:
    for obj in rendered.objects:
        if obj["kind"] != "Deployment":
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for each in pod["containers"]:
            assert each["securityContext"]["allowPrivilegeEscalation"] is False
        # Service links would set ALIGNGATE_PORT / VLLM_PORT and break settings parsing.
        assert pod["enableServiceLinks"] is False


def test_the_chart_never_carries_a_secret_value(rendered: Rendered) -> None:
    assert "Secret" not in rendered.kinds()
    for name, item in env_of(rendered, "gateway").items():
        if any(word in name for word in ("KEY", "TOKEN", "PASSWORD")):
            assert "secretKeyRef" in item["valueFrom"], name


def test_a_changed_gateway_config_rolls_the_gateway_pods() -> None:
    def checksum(values: dict[str, Any]) -> str:
        pod = render(values).one("Deployment", "gateway")["spec"]["template"]
        annotation: str = pod["metadata"]["annotations"]["checksum/config"]
        return annotation

    stricter = {"gatewayConfig": {"stages": {"bpo": stage(on_failure="closed")}}}
    assert checksum({}) != checksum(stricter)
    assert checksum({}) == checksum({"gateway": {"logLevel": "info"}})


def test_the_hpa_owns_the_replica_count_when_autoscaling() -> None:
    autoscaled = render_preset("default")
    assert "replicas" not in autoscaled.one("Deployment", "gateway")["spec"]
    hpa = autoscaled.one("HorizontalPodAutoscaler", "gateway")
    assert hpa["apiVersion"] == "autoscaling/v2"
    deployment = autoscaled.one("Deployment", "gateway")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    fixed = render({"gateway": {"autoscaling": {"enabled": False}, "replicas": 3}})
    assert fixed.one("Deployment", "gateway")["spec"]["replicas"] == 3


def test_vllm_runs_on_gpu_nodes_with_both_lora_adapters() -> None:
    gpu = render_preset("gpu", {"vllm": {"tensorParallelSize": 2}})
    pod = pod_spec(gpu, "vllm")
    vllm = container(gpu, "vllm")
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 2
    args: list[str] = vllm["args"]
    assert "--enable-lora" in args
    start = args.index("--lora-modules") + 1
    assert args[start : start + 2] == ["bpo=/adapters/bpo", "aligner=/adapters/aligner"]
    assert args[args.index("--tensor-parallel-size") + 1] == "2"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["model-cache"]["persistentVolumeClaim"]["claimName"] == "aligngate-vllm-cache"
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    assert vllm["readinessProbe"]["httpGet"]["path"] == "/health"
    token = env_of(gpu, "vllm")["HF_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token["name"] == "huggingface-token"


def test_the_service_monitor_is_rendered_only_when_enabled_and_the_cluster_has_its_crd() -> None:
    assert "ServiceMonitor" not in render_preset("default", api_versions=MONITORING).kinds()
    wanted = {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}
    # Without the Prometheus Operator's CRD an install would fail on the unknown kind;
    # the chart skips the monitor and says so instead.
    unmonitored = render(wanted)
    assert "ServiceMonitor" not in unmonitored.kinds()
    assert "no ServiceMonitor was created" in unmonitored.notes
    assert "no ServiceMonitor was created" not in render().notes
    monitored = render(wanted, api_versions=MONITORING)
    assert "no ServiceMonitor was created" not in monitored.notes
    monitor = monitored.one("ServiceMonitor", "gateway")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


def test_metrics_have_their_own_port_and_cluster_only_service_by_default() -> None:
    rendered = render({"gateway": {"service": {"type": "LoadBalancer", "port": 80}}})
    gateway = container(rendered, "gateway")
    args: list[str] = gateway["args"]
    assert args[args.index("--metrics-port") + 1] == "9090"
    assert {p["name"]: p["containerPort"] for p in gateway["ports"]} == {
        "http": 8000,
        "metrics": 9090,
    }
    # The client-facing Service (here a public LoadBalancer) never carries /metrics.
    api = rendered.one("Service", "gateway")
    assert [port["name"] for port in api["spec"]["ports"]] == ["http"]
    metrics = rendered.one("Service", "gateway-metrics")
    assert metrics["spec"]["type"] == "ClusterIP"
    assert metrics["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert metrics["spec"]["selector"] == api["spec"]["selector"]
    monitored = render({"serviceMonitor": {"enabled": True}}, api_versions=MONITORING)
    monitor = monitored.one("ServiceMonitor", "gateway")
    labels = monitor["spec"]["selector"]["matchLabels"]
    assert labels["app.kubernetes.io/component"] == "gateway-metrics"


def test_a_metrics_key_secret_reaches_the_gateway_and_the_service_monitor() -> None:
    values = {
        "metrics": {"existingSecret": "scrape", "secretKey": "key"},
        "serviceMonitor": {"enabled": True},
    }
    rendered = render(values, api_versions=MONITORING)
    ref = env_of(rendered, "gateway")["ALIGNGATE_METRICS_KEY"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "scrape", "key": "key"}
    endpoint = rendered.one("ServiceMonitor", "gateway")["spec"]["endpoints"][0]
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "scrape", "key": "key"},
    }
    assert "ALIGNGATE_METRICS_KEY" not in env_of(render(), "gateway")


def test_metrics_port_zero_keeps_metrics_on_the_api_port() -> None:
    values = {"metrics": {"port": 0}, "serviceMonitor": {"enabled": True}}
    rendered = render(values, api_versions=MONITORING)
    assert "--metrics-port" not in container(rendered, "gateway")["args"]
    assert "gateway-metrics" not in {_component(obj) for obj in rendered.objects}
    endpoint = rendered.one("ServiceMonitor", "gateway")["spec"]["endpoints"][0]
    assert endpoint["port"] == "http"


def test_the_api_docs_are_off_unless_enabled() -> None:
    assert "--no-docs" in container(render(), "gateway")["args"]
    enabled = container(render({"gateway": {"docs": True}}), "gateway")["args"]
    assert "--docs" in enabled and "--no-docs" not in enabled


def test_the_bundled_redis_is_what_the_gateway_connects_to() -> None:
    bundled = render({"redis": {"enabled": True}})
    service = bundled.one("Service", "redis")
    url = env_of(bundled, "gateway")["ALIGNGATE_REDIS_URL"]["value"]
    assert url == f"redis://{service['metadata']['name']}:6379/0"
    assert pod_spec(bundled, "redis")["securityContext"]["runAsNonRoot"] is True


def test_an_external_redis_url_or_secret_is_passed_through() -> None:
    external = render({"redis": {"url": "redis://cache.data:6379/1"}})
    url = env_of(external, "gateway")["ALIGNGATE_REDIS_URL"]["value"]
    assert url == "redis://cache.data:6379/1"
    assert "redis" not in {_component(obj) for obj in external.objects}
    secret = render({"redis": {"existingSecret": "redis-creds", "url": ""}})
    ref = env_of(secret, "gateway")["ALIGNGATE_REDIS_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "redis-creds", "key": "redis-url"}


def test_the_admin_key_comes_from_an_existing_secret() -> None:
    assert "ALIGNGATE_ADMIN_KEY" not in env_of(render(), "gateway")
    admin = render({"admin": {"existingSecret": "ops-admin", "secretKey": "key"}})
    ref = env_of(admin, "gateway")["ALIGNGATE_ADMIN_KEY"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "ops-admin", "key": "key"}


def test_the_notes_tell_how_to_reach_the_gateway_with_an_openai_client(rendered: Rendered) -> None:
    assert "kubectl -n llm port-forward svc/aligngate 8000:80" in rendered.notes
    assert "OpenAI(base_url=OPENAI_BASE_URL" in rendered.notes


def test_the_embedded_preset_warns_that_any_key_is_accepted() -> None:
    assert "accepts ANY API key" in render_preset("embedded").notes
    assert "ANY API key" not in render_preset("gpu").notes


def test_helm_lint_finds_no_problems() -> None:
    from tests.helm.rendering import CHART_DIR

    report = helm_python.lint(CHART_DIR, strict=True, namespace="llm")
    assert report["errors"] == [], report
    assert [m for m in report["messages"] if m["severity"] >= 2] == [], report["messages"]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "redis": {"enabled": True},
            "serviceMonitor": {"enabled": True},
            "ingress": {"enabled": True},
            "httpRoute": {"enabled": True, "parentRefs": [{"name": "public"}]},
        },
    ],
    ids=["preset", "with-every-optional-object"],
)
def test_every_object_names_the_release_namespace(preset: str, overrides: dict[str, Any]) -> None:
    # `helm template | kubectl apply -f -` (and GitOps tools) otherwise create the
    # objects in the current context's namespace, not the release's.
    rendered = render_preset(preset, overrides, api_versions=MONITORING)
    for obj in rendered.objects:
        assert obj["metadata"].get("namespace") == "llm", f"{obj['kind']} {obj['metadata']['name']}"
