"""The logic of the admin API: validated changes to tenants, keys, policies, experiments."""

from __future__ import annotations

from collections.abc import Callable, Set
from typing import Any

import structlog
from pydantic import BaseModel, Field, ValidationError

from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.tenants.keys import new_key
from gateway.tenants.models import Experiment, KeyRecord, Tenant, TenantLimits, TenantPolicy
from gateway.tenants.policy_patch import PolicyPatch, apply_patch
from gateway.tenants.store import TenantStore, UnreadableTenant

log = structlog.get_logger(__name__)


class NewKey(BaseModel):
    """A created key: the only time its plain value is shown."""

    id: str
    key: str
    prefix: str
    label: str


class KeyView(BaseModel):
    """A key as listed: never the key, never its digest."""

    id: str
    prefix: str
    label: str
    created_at: float

    @classmethod
    def of(cls, record: KeyRecord) -> KeyView:
        """The listable view of a stored key."""
        return cls(
            id=record.id, prefix=record.prefix, label=record.label, created_at=record.created_at
        )


class NewKeyRequest(BaseModel):
    """Body of a key creation."""

    label: str = Field(default="", max_length=100)


class TenantAdmin:
    """Changes go straight to the store, so every replica sees them on its next request."""

    def __init__(self, store: TenantStore, stage_names: Set[str], has_gate: bool = True) -> None:
        self._store = store
        self._stages = stage_names
        self._has_gate = has_gate

    async def get(self, name: str) -> Tenant:
        """A tenant, or 404."""
        tenant = await self._store.get_tenant(name)
        if tenant is None:
            raise NotFound(f"no tenant '{name}'", code="tenant_not_found")
        return tenant

    async def create(self, tenant: Tenant) -> Tenant:
        """A new tenant; 409 if the name is taken."""

        def create(current: Tenant | None) -> Tenant:
            if current is not None:
                raise Conflict(f"tenant '{tenant.name}' already exists", code="tenant_exists")
            return self._validate(tenant)

        return await self._store.update_tenant(tenant.name, create)

    async def replace(self, name: str, tenant: Tenant) -> Tenant:
        """Replace a tenant's policy, limits and experiments."""
        if tenant.name != name:
            raise InvalidRequest("the body's name must match the URL", param="name")
        tenant = self._validate(tenant)
        try:
            return await self._change(name, lambda _: tenant)
        except UnreadableTenant:
            # Replacing the whole record is how an admin repairs one an older gateway
            # broke; it cannot be read, so there is nothing to merge and no read to race.
            log.warning("tenant_repaired", tenant=name)
            await self._store.put_tenant(tenant)
            return tenant

    async def set_policy(self, name: str, policy: TenantPolicy) -> Tenant:
        """Replace a tenant's whole policy; leaving out a running experiment is a 400."""

        def replace(tenant: Tenant) -> Tenant:
            running = tenant.policy.experiment
            if running is not None and "experiment" not in policy.model_fields_set:
                # The one field a replace used to drop without anyone noticing: the
                # experiment is started elsewhere, so an edit of the policy forgets it.
                raise InvalidRequest(
                    f"this replaces the whole policy and would stop experiment '{running}'; "
                    f'send "experiment": "{running}" to keep it or null to stop it, '
                    "or PATCH the policy to change only the fields you send",
                    param="experiment",
                    code="experiment_would_stop",
                )
            return _with(tenant, policy=policy)

        return await self._change(name, replace)

    async def patch_policy(self, name: str, patch: PolicyPatch) -> Tenant:
        """Change only the policy fields ``patch`` names (a JSON merge patch)."""

        def merge(tenant: Tenant) -> Tenant:
            try:
                return _with(tenant, policy=apply_patch(tenant.policy, patch))
            except ValidationError as error:
                raise _invalid(error) from error

        return await self._change(name, merge)

    async def set_limits(self, name: str, limits: TenantLimits) -> Tenant:
        """Replace a tenant's limits."""
        return await self._change(name, lambda tenant: _with(tenant, limits=limits))

    async def put_experiment(self, name: str, experiment: Experiment) -> Tenant:
        """Create or replace one experiment of a tenant."""
        return await self._change(
            name,
            lambda tenant: _with(
                tenant, experiments={**tenant.experiments, experiment.name: experiment}
            ),
        )

    async def delete_experiment(self, name: str, experiment: str) -> Tenant:
        """Delete an experiment; a policy that runs it stops running any."""

        def remove(tenant: Tenant) -> Tenant:
            if experiment not in tenant.experiments:
                raise NotFound(f"tenant '{name}' has no experiment '{experiment}'")
            experiments = {k: v for k, v in tenant.experiments.items() if k != experiment}
            policy = tenant.policy
            if policy.experiment == experiment:
                policy = policy.model_copy(update={"experiment": None})
            return _with(tenant, experiments=experiments, policy=policy)

        return await self._change(name, remove)

    async def _change(self, name: str, change: Callable[[Tenant], Tenant]) -> Tenant:
        """Apply ``change`` to an existing tenant in one atomic store update, validated."""

        def apply(current: Tenant | None) -> Tenant:
            if current is None:
                raise NotFound(f"no tenant '{name}'", code="tenant_not_found")
            return self._validate(change(current))

        return await self._store.update_tenant(name, apply)

    async def delete(self, name: str) -> None:
        """Delete a tenant and its keys."""
        if not await self._store.delete_tenant(name):
            raise NotFound(f"no tenant '{name}'", code="tenant_not_found")
        if not await self._store.has_tenants():
            log.warning(
                "last_tenant_deleted",
                tenant=name,
                message="no tenant remains; API keys are still required, so every API "
                "request gets 401 until a tenant is added",
            )

    async def create_key(self, name: str, label: str) -> NewKey:
        """A new key for a tenant; the plain key is returned once and never stored."""
        await self.get(name)
        key, record = new_key(name, label)
        await self._store.add_key(record)
        return NewKey(id=record.id, key=key, prefix=record.prefix, label=label)

    async def list_keys(self, name: str) -> list[KeyView]:
        """A tenant's keys, without their values."""
        await self.get(name)
        return [KeyView.of(record) for record in await self._store.list_keys(name)]

    async def delete_key(self, name: str, key_id: str) -> None:
        """Revoke a key."""
        if not await self._store.delete_key(name, key_id):
            raise NotFound(f"tenant '{name}' has no key '{key_id}'")

    def _validate(self, tenant: Tenant) -> Tenant:
        # model_copy(update=...) skips validation, so the whole record is checked again:
        # nothing the store would later fail to read may be written.
        try:
            tenant = Tenant.model_validate(tenant.model_dump())
        except ValidationError as error:
            raise _invalid(error) from error
        named = list(tenant.policy.pipeline or []) + list(tenant.policy.stages)
        for experiment in tenant.experiments.values():
            for arm in experiment.arms:
                named += arm.pipeline + list(arm.stages)
        unknown = sorted(set(named) - set(self._stages))
        if unknown:
            raise InvalidRequest(f"unknown stages {unknown}; configured: {sorted(self._stages)}")
        settings = [tenant.policy.stages] + [
            arm.stages for experiment in tenant.experiments.values() for arm in experiment.arms
        ]
        gated = sorted({n for stages in settings for n, s in stages.items() if s.gate == "gated"})
        if gated and not self._has_gate:
            # Accepted, it would run the stage as if always on (or fail every request).
            raise InvalidRequest(
                f"stages {gated} are 'gated' but this gateway loads no risk gate "
                "(config: gate.enabled)",
                code="gate_not_loaded",
            )
        running = tenant.policy.experiment
        if running is not None and running not in tenant.experiments:
            raise InvalidRequest(
                f"policy runs experiment '{running}', which the tenant does not have",
                param="policy.experiment",
            )
        return tenant


def _invalid(error: ValidationError) -> InvalidRequest:
    """The first validation error as a 400 naming its field."""
    first = error.errors()[0]
    param = ".".join(str(part) for part in first["loc"]) or None
    return InvalidRequest(f"{param}: {first['msg']}" if param else first["msg"], param=param)


def _with(tenant: Tenant, **fields: Any) -> Tenant:
    """A copy with some fields replaced (validated again by ``_validate`` before writing)."""
    return tenant.model_copy(update=fields)
