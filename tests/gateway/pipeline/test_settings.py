"""One stage's settings layered config → tenant → arm: every field's precedence."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import StageConfig
from gateway.pipeline.settings import StageSettings, resolve
from gateway.tenants.models import StageSetting, TenantPolicy

CONFIG = StageConfig(
    kind="aligner",
    engine="local",
    timeout_s=30.0,
    on_failure="open",
    gate="gated",
    gate_threshold=0.4,
    refusal="No.",
)


def _policy(stage: dict[str, Any] | None = None, **fields: Any) -> TenantPolicy:
    """A tenant policy as the admin API parses it, with ``stage`` for 'aligner'."""
    stages = {"aligner": stage} if stage is not None else {}
    return TenantPolicy.model_validate({"stages": stages, **fields})


def _arm(**fields: Any) -> StageSetting:
    return StageSetting.model_validate(fields)


def test_with_no_tenant_setting_the_config_decides_everything() -> None:
    assert resolve(CONFIG, _policy(), "aligner") == StageSettings(
        run="on", gate="gated", gate_threshold=0.4, timeout_s=30.0, on_failure="open", refusal="No."
    )


@pytest.mark.parametrize(
    ("field", "value", "attribute"),
    [
        ("mode", "shadow", "run"),
        ("gate", "never", "gate"),
        ("gate_threshold", 0.9, "gate_threshold"),
        ("timeout_s", 2.0, "timeout_s"),
        ("on_failure", "closed", "on_failure"),
    ],
)
def test_the_tenant_overrides_each_field_and_the_arm_overrides_the_tenant(
    field: str, value: object, attribute: str
) -> None:
    tenant = resolve(CONFIG, _policy({field: value}), "aligner")
    assert getattr(tenant, attribute) == value
    other = {"mode": "on", "gate": "always", "gate_threshold": 0.1, "timeout_s": 9.0}
    other["on_failure"] = "open"
    arm = resolve(CONFIG, _policy({field: value}), "aligner", _arm(**{field: other[field]}))
    assert getattr(arm, attribute) == other[field]


def test_an_arm_inherits_every_field_it_leaves_unset_from_the_tenant() -> None:
    tenant = {"mode": "shadow", "gate": "never", "gate_threshold": 0.7, "timeout_s": 3.0}
    settings = resolve(CONFIG, _policy(tenant | {"on_failure": "closed"}), "aligner", _arm())
    assert settings == StageSettings(
        run="shadow",
        gate="never",
        gate_threshold=0.7,
        timeout_s=3.0,
        on_failure="closed",
        refusal="No.",
    )
    only_timeout = resolve(CONFIG, _policy(tenant), "aligner", _arm(timeout_s=1.0))
    assert (only_timeout.run, only_timeout.gate, only_timeout.timeout_s) == ("shadow", "never", 1.0)


def test_the_policy_wide_failure_policy_sits_between_the_stage_setting_and_the_config() -> None:
    assert resolve(CONFIG, _policy(on_failure="closed"), "aligner").on_failure == "closed"
    stage_open = _policy({"on_failure": "open"}, on_failure="closed")
    assert resolve(CONFIG, stage_open, "aligner").on_failure == "open"
    # An arm that sets no failure policy keeps the tenant's policy-wide one.
    assert resolve(CONFIG, _policy(on_failure="closed"), "aligner", _arm()).on_failure == "closed"


def test_a_field_set_to_none_means_the_layer_below() -> None:
    # An arm's None keeps the tenant's value (a stored record spells every field, so
    # None cannot mean anything else); the tenant's None falls to its policy, then config.
    tenant = _policy({"gate": "never", "gate_threshold": None, "on_failure": None})
    arm = _arm(mode=None, gate=None, gate_threshold=None, on_failure=None, timeout_s=None)
    settings = resolve(CONFIG, tenant.model_copy(update={"on_failure": "closed"}), "aligner", arm)
    assert (settings.run, settings.gate, settings.gate_threshold) == ("on", "never", 0.4)
    assert (settings.timeout_s, settings.on_failure) == (30.0, "closed")


def test_a_threshold_of_zero_is_a_value_not_unset() -> None:
    assert resolve(CONFIG, _policy({"gate_threshold": 0.0}), "aligner").gate_threshold == 0.0


def test_another_stage_s_setting_does_not_apply() -> None:
    policy = TenantPolicy.model_validate({"stages": {"bpo": {"mode": "off", "timeout_s": 1}}})
    assert resolve(CONFIG, policy, "aligner") == resolve(CONFIG, _policy(), "aligner")


def test_the_refusal_is_the_config_s_and_shadow_and_fail_closed_read_from_the_fields() -> None:
    settings = resolve(CONFIG, _policy({"mode": "shadow", "on_failure": "closed"}), "aligner")
    assert settings.refusal == "No."
    assert settings.shadow and settings.fail_closed
    assert not resolve(CONFIG, _policy(), "aligner").shadow


def test_an_arm_stored_and_read_back_still_overrides_only_what_it_set() -> None:
    # The admin API re-validates a dump of the record and the stores save every field,
    # so after a write every field of the arm's setting counts as set.
    stored = StageSetting.model_validate_json(_arm(gate_threshold=0.9).model_dump_json())
    policy = _policy({"mode": "shadow", "gate": "always"})

    settings = resolve(CONFIG, policy, "aligner", stored)

    assert (settings.run, settings.gate, settings.gate_threshold) == ("shadow", "always", 0.9)
