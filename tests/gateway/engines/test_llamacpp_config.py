"""The llamacpp engine's configuration: the shipped example file and the registry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from gateway.config import load_config
from gateway.engines.config import EngineConfig, LlamaCppEngineConfig
from gateway.engines.registry import build_engine

DEFAULTS = Path(__file__).parents[3] / "gateway" / "defaults"


def test_the_example_config_runs_the_embedded_model_on_llamacpp() -> None:
    config = load_config(DEFAULTS / "embedded-llamacpp.yaml")
    engine = config.engines["local"]
    assert isinstance(engine, LlamaCppEngineConfig)
    assert engine.model == "embedded:smollm2"
    # Relative adapter directories are resolved against the config file.
    assert engine.adapters == {
        "bpo": str((DEFAULTS / "adapters" / "bpo").resolve()),
        "aligner": str((DEFAULTS / "adapters" / "aligner").resolve()),
    }
    assert {stage.adapter for stage in config.stages.values()} == {"bpo", "aligner"}


def test_the_example_differs_from_the_default_only_in_its_engine_and_gate_trunk() -> None:
    default = load_config(DEFAULTS / "embedded.yaml").model_dump(exclude={"engines"})
    example = load_config(DEFAULTS / "embedded-llamacpp.yaml").model_dump(exclude={"engines"})
    assert example["gate"].pop("trunk") == "llamacpp"
    assert default["gate"].pop("trunk") == "transformers"
    assert example == default


def test_kind_llamacpp_builds_the_llamacpp_engine_without_loading_it() -> None:
    config = TypeAdapter(EngineConfig).validate_python({"kind": "llamacpp", "parallel": 2})
    engine = build_engine(config)
    assert type(engine).__name__ == "LlamaCppEngine"
    assert engine.config.parallel == 2  # type: ignore[attr-defined]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(EngineConfig).validate_python({"kind": "llamacpp", "slots": 4})


def test_one_token_steps_use_one_thread_and_wider_steps_every_core_by_default() -> None:
    from gateway.engines.llamacpp_engine import LlamaCppEngine

    default = LlamaCppEngine(LlamaCppEngineConfig()).server_settings()
    assert (default.threads, default.batch_threads) == (1, len(os.sched_getaffinity(0)))
    chosen = LlamaCppEngine(LlamaCppEngineConfig(threads=2, batch_threads=1)).server_settings()
    assert (chosen.threads, chosen.batch_threads) == (2, 1)
