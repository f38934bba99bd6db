"""Experiment arms: sticky assignment by a stable hash, or a forced arm when allowed."""

from __future__ import annotations

import hashlib
import uuid

from pydantic import BaseModel

from gateway.errors import InvalidRequest
from gateway.tenants.models import Arm, Experiment, Tenant


class Assignment(BaseModel):
    """The arm a request runs in, and why."""

    experiment: str
    arm: Arm
    unit: str
    forced: bool = False


def bucket(tenant: str, experiment: str, unit: str) -> float:
    """A stable number in [0, 1) for this unit; same inputs, same number, on every replica."""
    digest = hashlib.sha256(f"{tenant}\x00{experiment}\x00{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_arm(experiment: Experiment, point: float) -> Arm:
    """The arm whose cumulative weight range contains ``point``."""
    total = sum(arm.weight for arm in experiment.arms)
    edge = 0.0
    for arm in experiment.arms:
        edge += arm.weight / total
        if point < edge and arm.weight > 0:
            return arm
    return [arm for arm in experiment.arms if arm.weight > 0][-1]


def assign(tenant: Tenant, user: str | None, forced_arm: str | None) -> Assignment | None:
    """The tenant's running experiment's arm for this request, or None without one.

    The unit is the user (the request's ``user`` field or ``x-aligngate-user``);
    without one, each request is its own unit.
    """
    name = tenant.policy.experiment
    experiment = tenant.experiments.get(name) if name else None
    if experiment is None:
        return None
    if forced_arm is not None and tenant.policy.allow_force_arm:
        arm = experiment.arm(forced_arm)
        if arm is None:
            raise InvalidRequest(
                f"experiment '{experiment.name}' has no arm '{forced_arm}'",
                param="x-aligngate-force-arm",
            )
        return Assignment(experiment=experiment.name, arm=arm, unit=user or "-", forced=True)
    unit = user or f"request:{uuid.uuid4().hex}"
    arm = pick_arm(experiment, bucket(tenant.name, experiment.name, unit))
    return Assignment(experiment=experiment.name, arm=arm, unit=unit)
