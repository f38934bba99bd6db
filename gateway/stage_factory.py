"""The stages of a config, built once: the one factory the gateway and its guardrails share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gateway.config import GatewayConfig
from gateway.engines.base import Engine, EngineError
from gateway.pipeline.plan import StagePlanner
from gateway.pipeline.registry import StageBuilder, default_stage_builders
from gateway.startup_checks import (
    StartupRefused,
    check_gate_dependencies,
    check_gated_policies_have_a_gate,
)

if TYPE_CHECKING:
    from gateway.gate.risk_gate import RiskGate


def build_stage_planner(
    config: GatewayConfig,
    engines: Mapping[str, Engine],
    stage_builders: Mapping[str, StageBuilder] | None = None,
    gate: RiskGate | None = None,
) -> StagePlanner:
    """Every configured stage on its engine, and the risk gate if the config enables it."""
    builders = stage_builders if stage_builders is not None else _builders_for(config)
    stages = {
        name: builders[stage.kind](name, stage, engines[stage.engine])
        for name, stage in config.stages.items()
    }
    if gate is None and config.gate.enabled:
        check_gate_dependencies(config.gate.trunk)
        from gateway.gate.risk_gate import RiskGate

        try:
            gate = RiskGate.from_config(config.gate)
        except EngineError as error:  # e.g. heads trained on another trunk's vectors
            raise StartupRefused(str(error)) from None
    if gate is None:
        check_gated_policies_have_a_gate(config)
    return StagePlanner(stages, config.stages, gate)


def _builders_for(config: GatewayConfig) -> Mapping[str, StageBuilder]:
    # The stage packages import only when a config uses stages, keeping quick mode light.
    return default_stage_builders() if config.stages else {}
