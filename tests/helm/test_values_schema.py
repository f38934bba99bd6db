"""values.schema.json knows every gateway config key, so valid configs are not refused.

The chart's schema is written by hand (Helm reads it as is) and mirrors the gateway's
pydantic config models; these tests compare the two key by key, so a field added to
the gateway (or to the schema alone) fails here instead of at ``helm install``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from gateway.config import (
    BreakerConfig,
    EngineBackendConfig,
    GateConfig,
    GatewayConfig,
    LitellmBackendConfig,
    ModelRoute,
    OpenAIBackendConfig,
    RetryConfig,
    StageConfig,
    TenantConfig,
    TracingConfig,
)
from gateway.stage_modes import GateMode
from gateway.tenants.models import PassthroughRoute
from tests.helm.rendering import CHART_DIR, render, render_preset
from tests.helm.test_gateway_config import load_rendered_config

SCHEMA: dict[str, Any] = json.loads((CHART_DIR / "values.schema.json").read_text("utf-8"))
CONFIG = "/properties/gatewayConfig"


def node(pointer: str) -> dict[str, Any]:
    """The schema object at a JSON pointer, following a ``$ref`` where it ends on one."""
    found: Any = SCHEMA
    for part in pointer.strip("/").split("/"):
        found = found[part]
        while "$ref" in found:
            found = node(found["$ref"].removeprefix("#"))
    assert isinstance(found, dict)
    return found


def keys(pointer: str) -> set[str]:
    """The property names the schema allows at ``pointer``."""
    return set(node(pointer)["properties"])


def fields(*models: type[BaseModel]) -> set[str]:
    """Every field name of the given config models."""
    return {name for model in models for name in model.model_fields}


@pytest.mark.parametrize(
    ("pointer", "models", "schema_only"),
    [
        (CONFIG, [GatewayConfig], set()),
        # One schema object for the three backend kinds; `direct` is the old spelling
        # the gateway still reads (and rewrites) for kind litellm.
        (
            "/$defs/backend",
            [OpenAIBackendConfig, LitellmBackendConfig, EngineBackendConfig],
            {"direct"},
        ),
        ("/$defs/backend/properties/retry", [RetryConfig], set()),
        ("/$defs/backend/properties/breaker", [BreakerConfig], set()),
        (f"{CONFIG}/properties/models/items", [ModelRoute], set()),
        ("/$defs/stage", [StageConfig], set()),
        ("/$defs/tenant", [TenantConfig], set()),
        (f"{CONFIG}/properties/gate", [GateConfig], set()),
        (f"{CONFIG}/properties/tracing", [TracingConfig], set()),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_the_schema_allows_exactly_the_keys_the_gateway_config_reads(
    pointer: str, models: list[type[BaseModel]], schema_only: set[str]
) -> None:
    assert keys(pointer) - schema_only == fields(*models)
    assert node(pointer)["additionalProperties"] is False


def test_the_schema_enums_match_the_gateway_literals() -> None:
    passthrough = node(f"{CONFIG}/properties/passthrough/items")["enum"]
    assert set(passthrough) == set(get_args(PassthroughRoute))
    assert set(node("/$defs/stage/properties/gate")["enum"]) == set(get_args(GateMode))


def test_retry_breaker_and_fallback_settings_render_and_reach_the_gateway(tmp_path: Path) -> None:
    resilient = {
        "kind": "openai",
        "model": "gpt-4o-mini",
        "api_base": "https://api.openai.com/v1",
        "retry": {"attempts": 5, "backoff_s": 0.5, "max_retry_after_s": 4, "budget_s": 20},
        "breaker": {"failures": 3, "reset_after_s": 10},
    }
    values = {
        "gatewayConfig": {
            "default_backend": resilient,
            "models": [
                {"name": "primary", "backend": resilient, "fallbacks": ["spare"]},
                {"name": "spare", "backend": {**resilient, "model": "gpt-4.1-mini"}},
            ],
            "tracing": {"enabled": True, "otlp_endpoint": "http://collector:4318"},
        }
    }
    config = load_rendered_config(render(values), tmp_path)
    backend = config.models[0].backend
    assert isinstance(backend, OpenAIBackendConfig)
    assert (backend.retry.attempts, backend.breaker.failures) == (5, 3)
    assert config.models[0].fallbacks == ["spare"]
    assert config.tracing.otlp_endpoint == "http://collector:4318"


def test_the_embedded_presets_gate_settings_are_accepted(tmp_path: Path) -> None:
    config = load_rendered_config(render_preset("embedded"), tmp_path)
    assert config.gate.enabled is True
    assert config.stages["aligner"].gate == "gated"
