"""A benign request through the embedded default against the same backend with no stages.

Group ``default-vs-control``, side by side in one run: the shipped config
(``gateway/defaults/embedded.yaml``: gate on, Aligner gated) and a control that is the
same config with an empty pipeline, both on one in-process engine with the shipped
adapters loaded. The target is the default at no more than 1.5x the control's time.
Both arms run on each embedded engine in turn, the transformers one the default ships
and the llama.cpp one (``gateway/defaults/embedded-llamacpp.yaml``), so the benign
request's time is also compared across engines in the same run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.test_gate_latency import BENIGN_PROMPTS
from gateway.config import GatewayConfig, load_config
from gateway.engines.base import Engine
from gateway.engines.config import LlamaCppEngineConfig, TransformersEngineConfig
from gateway.engines.llamacpp_engine import LlamaCppEngine
from gateway.engines.transformers_engine import TransformersEngine
from gateway.startup import embedded_config_path
from tests.support.engines import Shared

MAX_TOKENS = 64


@pytest.fixture(scope="module", params=["transformers", "llamacpp"])
def default_config(request: pytest.FixtureRequest) -> GatewayConfig:
    """The shipped embedded config, on each embedded engine in turn."""
    if request.param == "transformers":
        return load_config(embedded_config_path())
    return load_config(embedded_config_path().with_name("embedded-llamacpp.yaml"))


@pytest.fixture(scope="module")
def engine(default_config: GatewayConfig) -> Iterator[TransformersEngine | LlamaCppEngine]:
    """The default's engine, adapters and all, loaded once for both arms."""
    settings = default_config.engines["local"]
    loaded: TransformersEngine | LlamaCppEngine
    if isinstance(settings, TransformersEngineConfig):
        loaded = TransformersEngine(settings)
    else:
        assert isinstance(settings, LlamaCppEngineConfig)
        loaded = LlamaCppEngine(settings)
    loaded.load()
    yield loaded
    asyncio.run(loaded.aclose())


def _serve(config: GatewayConfig, engine: Engine) -> Any:
    from gateway.app import create_app
    from gateway.services import Services
    from gateway.settings import GatewaySettings
    from tests.support.servers import serve_in_thread

    services = Services(GatewaySettings(store="memory"), config, {"local": Shared(engine)})
    return serve_in_thread(create_app(services))


@pytest.fixture(scope="module")
def default_gateway(default_config: GatewayConfig, engine: Engine) -> Iterator[str]:
    """The embedded default; ready once its gate has loaded."""
    with _serve(default_config, engine) as url:
        _wait_ready(url)
        yield url


@pytest.fixture(scope="module")
def control_gateway(default_config: GatewayConfig, engine: Engine) -> Iterator[str]:
    """The same backend with no stages (the gate loads, but nothing asks it)."""
    control = default_config.model_copy(update={"pipeline": []})
    with _serve(control, engine) as url:
        _wait_ready(url)
        yield url


def _wait_ready(url: str) -> None:
    import time

    deadline = time.monotonic() + 300
    while httpx.get(f"{url}/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} was not ready in 300 s: {httpx.get(f'{url}/readyz').text}")
        time.sleep(0.5)


def _ask(url: str, seen: list[str]) -> None:
    prompt = BENIGN_PROMPTS[len(seen) % len(BENIGN_PROMPTS)]
    response = httpx.post(
        f"{url}/v1/chat/completions",
        timeout=300,
        json={
            "model": "smollm2",
            "max_tokens": MAX_TOKENS,
            "messages": [{"role": "user", "content": prompt}],
        },
    )
    assert response.status_code == 200, response.text
    seen.append(response.headers.get("x-aligngate-stages", "none ran"))


@pytest.mark.benchmark(group="default-vs-control")
def test_benign_request_control(benchmark: BenchmarkFixture, control_gateway: str) -> None:
    seen: list[str] = []
    benchmark.pedantic(_ask, args=(control_gateway, seen), rounds=10, iterations=1)
    benchmark.extra_info["stages"] = seen


@pytest.mark.benchmark(group="default-vs-control")
def test_benign_request_default_pipeline(benchmark: BenchmarkFixture, default_gateway: str) -> None:
    seen: list[str] = []
    benchmark.pedantic(_ask, args=(default_gateway, seen), rounds=10, iterations=1)
    benchmark.extra_info["stages"] = seen
