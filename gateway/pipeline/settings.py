"""How one stage runs for one request: its settings, layered config → tenant → arm.

The config file gives every stage its defaults (``StageConfig``); a tenant's policy
may override them per stage (``StageSetting``) and set one failure policy for all its
stages; an experiment arm may override the tenant's per-stage setting. ``resolve`` is
the one place those layers meet, and ``StageSettings`` is what the pipeline, the
gating step, the verification and the rewrite guard read.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import StageConfig
from gateway.pipeline.stage import PostCallStage, PreCallStage
from gateway.stage_modes import FailurePolicy, GateMode, RunMode
from gateway.tenants.models import StageSetting, TenantPolicy


@dataclass(frozen=True)
class StageSettings:
    """A stage's resolved settings for one request; every layer already applied."""

    timeout_s: float
    on_failure: FailurePolicy
    refusal: str
    run: RunMode = "on"
    gate: GateMode = "always"
    gate_threshold: float | None = None  # None: the shipped head's cut-off

    @property
    def shadow(self) -> bool:
        """A shadow stage runs and is recorded, but its change is never applied."""
        return self.run == "shadow"

    @property
    def fail_closed(self) -> bool:
        """A failure is an error for the request, never unaligned text."""
        return self.on_failure == "closed"


def resolve(
    config: StageConfig, policy: TenantPolicy, name: str, arm: StageSetting | None = None
) -> StageSettings:
    """Stage ``name``'s settings: the config's, under the tenant's, under the arm's.

    The arm's setting overrides the tenant's field by field, but only the fields it
    gives a value: None means the layer below (the tenant's, its policy-wide
    ``on_failure``, then the config), as the record's field descriptions say. Reading
    None, not "was it set", keeps a stored record (which spells every field) meaning
    what was written.
    """
    setting = _merged(policy.stages.get(name), arm)
    return StageSettings(
        run=setting.mode or "on",
        gate=setting.gate or config.gate,
        gate_threshold=(
            setting.gate_threshold if setting.gate_threshold is not None else config.gate_threshold
        ),
        timeout_s=setting.timeout_s or config.timeout_s,
        on_failure=setting.on_failure or policy.on_failure or config.on_failure,
        refusal=config.refusal,
    )


def _merged(tenant: StageSetting | None, arm: StageSetting | None) -> StageSetting:
    """The tenant's per-stage setting with the fields the arm sets laid over it."""
    base = tenant if tenant is not None else StageSetting()
    if arm is None:
        return base
    given = {field: value for field, value in arm if value is not None}
    return base.model_copy(update=given)


@dataclass(frozen=True)
class PlannedStage:
    """A stage with the settings it runs under for this request."""

    stage: PreCallStage | PostCallStage
    settings: StageSettings
