"""The stages one request runs: the model's pipeline, shaped by tenant policy and arm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import structlog

from gateway.config import StageConfig
from gateway.pipeline.gating import GateSetting
from gateway.pipeline.pipeline import Pipeline, PlannedStage, StagePolicy
from gateway.pipeline.stage import PostCallStage, PreCallStage
from gateway.tenants.models import Arm, StageSetting, Tenant

if TYPE_CHECKING:
    from gateway.gate.risk_gate import RiskGate

log = structlog.get_logger(__name__)


class StagePlanner:
    """Holds the stages built once at start-up and picks each request's ordered subset."""

    def __init__(
        self,
        stages: Mapping[str, PreCallStage | PostCallStage],
        configs: Mapping[str, StageConfig],
        gate: RiskGate | None = None,
    ) -> None:
        self._stages = dict(stages)
        self._configs = dict(configs)
        self.gate = gate

    @property
    def names(self) -> set[str]:
        """The configured stage names."""
        return set(self._stages)

    def plan(self, route_pipeline: list[str], tenant: Tenant, arm: Arm | None) -> Pipeline:
        """The arm's pipeline, else the tenant's, else the model's; settings layered likewise."""
        names = route_pipeline
        if tenant.policy.pipeline is not None:
            names = tenant.policy.pipeline
        if arm is not None:
            names = arm.pipeline
        planned = []
        for name in names:
            if name not in self._stages:
                log.warning("unknown_stage_skipped", stage=name, tenant=tenant.name)
                continue
            setting = self._setting(name, tenant, arm)
            if setting.mode == "off":
                continue
            config = self._configs[name]
            policy = StagePolicy(
                timeout_s=setting.timeout_s or config.timeout_s,
                on_failure=setting.on_failure or tenant.policy.on_failure or config.on_failure,
                refusal=config.refusal,
            )
            planned.append(
                PlannedStage(
                    stage=self._stages[name],
                    policy=policy,
                    shadow=setting.mode == "shadow",
                    gate=GateSetting(
                        mode=setting.gate or config.gate,
                        threshold=(
                            setting.gate_threshold
                            if setting.gate_threshold is not None
                            else config.gate_threshold
                        ),
                    ),
                )
            )
        return Pipeline(planned, gate=self.gate)

    @staticmethod
    def _setting(name: str, tenant: Tenant, arm: Arm | None) -> StageSetting:
        base = tenant.policy.stages.get(name, StageSetting())
        override = arm.stages.get(name) if arm is not None else None
        if override is None:
            return base
        merged = base.model_dump(exclude_unset=True) | override.model_dump(exclude_unset=True)
        return StageSetting.model_validate(merged)
