"""The stages one request runs: the model's pipeline, shaped by tenant policy and arm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import structlog

from gateway.config import StageConfig
from gateway.pipeline.pipeline import Pipeline
from gateway.pipeline.settings import PlannedStage, resolve
from gateway.pipeline.stage import PostCallStage, PreCallStage
from gateway.tenants.models import Arm, Tenant
from gateway.tracing.seam import NO_SPAN, Span

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

    def plan(
        self, route_pipeline: list[str], tenant: Tenant, arm: Arm | None, span: Span = NO_SPAN
    ) -> Pipeline:
        """The arm's pipeline, else the tenant's, else the model's; settings resolved per stage."""
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
            override = arm.stages.get(name) if arm is not None else None
            settings = resolve(self._configs[name], tenant.policy, name, override)
            if settings.run != "off":
                planned.append(PlannedStage(stage=self._stages[name], settings=settings))
        return Pipeline(planned, gate=self.gate, span=span)
