"""A partial change to a tenant's policy, applied as a JSON merge patch (RFC 7396).

``PATCH .../policy`` changes only the fields its body names: a value replaces the
field, ``null`` resets it to its default, and ``stages`` merges per stage and per
setting (``{"stages": {"aligner": null}}`` drops that stage's settings). An admin who
changes one field does not have to restate, or risk dropping, the running experiment.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from gateway.stage_modes import FailurePolicy
from gateway.tenants.models import (
    PassthroughRoute,
    StageSetting,
    Strict,
    TenantPolicy,
    misplaced_stage_settings,
)


class PolicyPatch(Strict):
    """The fields of a policy to change; absent ones are kept, ``null`` resets one."""

    pipeline: list[str] | None = None
    stages: dict[str, StageSetting | None] | None = Field(
        default=None, description="Per stage: settings merged field by field; null drops them."
    )
    on_failure: FailurePolicy | None = None
    experiment: str | None = None
    allow_force_arm: bool | None = None
    log_content: bool | None = None
    passthrough: list[PassthroughRoute] | None = None

    @model_validator(mode="before")
    @classmethod
    def _stage_fields_here(cls, data: Any) -> Any:
        return misplaced_stage_settings(data)


def apply_patch(policy: TenantPolicy, patch: PolicyPatch) -> TenantPolicy:
    """``policy`` with the patch's fields merged in (validated again by the caller)."""
    merged: dict[str, Any] = policy.model_dump()
    defaults = TenantPolicy().model_dump()
    for name in patch.model_fields_set:
        value = getattr(patch, name)
        if name == "stages" and value is not None:
            merged["stages"] = _merged_stages(policy.stages, value)
        elif value is None:
            merged[name] = defaults[name]
        else:
            merged[name] = value
    return TenantPolicy.model_validate(merged)


def _merged_stages(
    current: dict[str, StageSetting], patch: dict[str, StageSetting | None]
) -> dict[str, Any]:
    stages = {name: setting.model_dump() for name, setting in current.items()}
    for name, setting in patch.items():
        if setting is None:
            stages.pop(name, None)
            continue
        # A setting's fields are all optional and None means "the layer below", so a
        # null field in the patch resets that field, as RFC 7396 reads it.
        changed = setting.model_dump(include=setting.model_fields_set)
        stages[name] = {**stages.get(name, {}), **changed}
    return stages
