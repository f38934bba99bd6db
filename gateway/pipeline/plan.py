"""The stages one request runs: the model's pipeline, shaped by tenant policy and arm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import structlog

from gateway.config import StageConfig
from gateway.errors import InvalidRequest
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
        self,
        route_pipeline: list[str],
        tenant: Tenant,
        arm: Arm | None,
        span: Span = NO_SPAN,
        requested: Sequence[str] | None = None,
    ) -> Pipeline:
        """The arm's pipeline, else the tenant's, else the model's; settings resolved per stage.

        ``requested`` (the client's choice, ``gateway/pipeline/choice.py``) narrows it.
        """
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
        if requested is not None:
            planned = _chosen(planned, requested)
        return Pipeline(planned, gate=self.gate, span=span)


def _chosen(planned: list[PlannedStage], requested: Sequence[str]) -> list[PlannedStage]:
    """The planned stages the client kept: it may drop a fail-open stage, nothing else.

    A name outside the plan is refused rather than ignored: silently running fewer
    stages than asked would let a client believe it got a guardrail it did not. A
    fail-closed stage is the tenant's promise that no unaligned text goes out, so it
    runs whether the client names it or not.
    """
    names = [p.stage.name for p in planned]
    unknown = [name for name in dict.fromkeys(requested) if name not in names]
    if unknown:
        allowed = ", ".join(names) or "none"
        raise InvalidRequest(
            f"stage(s) {', '.join(map(repr, unknown))} are not in this request's plan; "
            f"it may choose among: {allowed}",
            param="aligngate.stages",
            code="stage_not_allowed",
        )
    return [p for p in planned if p.stage.name in requested or p.settings.fail_closed]
