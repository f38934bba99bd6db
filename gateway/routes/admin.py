"""``/admin``: tenants, keys, policies and experiments, behind the admin key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from gateway.dependencies import ServicesDep, require_admin
from gateway.tenants.admin import KeyView, NewKey, NewKeyRequest, TenantAdmin
from gateway.tenants.models import NAME_PATTERN, Experiment, Tenant, TenantLimits, TenantPolicy
from gateway.tenants.policy_patch import PolicyPatch

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)], tags=["admin"])

# Names in the URL obey the body's rule: a name that skipped it once bricked a tenant.
TenantName = Annotated[str, Path(pattern=NAME_PATTERN, description="The tenant's name.")]
ExperimentName = Annotated[str, Path(pattern=NAME_PATTERN, description="The experiment's name.")]
KeyId = Annotated[str, Path(pattern=NAME_PATTERN, description="The key's id.")]


async def get_admin(services: ServicesDep) -> TenantAdmin:
    """The admin logic over this gateway's store and stages."""
    return TenantAdmin(
        services.store, services.planner.names, has_gate=services.planner.gate is not None
    )


AdminService = Annotated[TenantAdmin, Depends(get_admin)]


@router.get("/tenants")
async def list_tenants(services: ServicesDep) -> list[Tenant]:
    """All tenants."""
    return await services.store.list_tenants()


@router.post("/tenants", status_code=201)
async def create_tenant(tenant: Tenant, admin: AdminService) -> Tenant:
    """Create a tenant."""
    return await admin.create(tenant)


@router.get("/tenants/{name}")
async def get_tenant(name: TenantName, admin: AdminService) -> Tenant:
    """One tenant."""
    return await admin.get(name)


@router.put("/tenants/{name}")
async def replace_tenant(name: TenantName, tenant: Tenant, admin: AdminService) -> Tenant:
    """Replace a tenant's policy, limits and experiments."""
    return await admin.replace(name, tenant)


@router.delete("/tenants/{name}", status_code=204)
async def delete_tenant(name: TenantName, admin: AdminService) -> Response:
    """Delete a tenant and its keys."""
    await admin.delete(name)
    return Response(status_code=204)


@router.put("/tenants/{name}/policy")
async def set_policy(name: TenantName, policy: TenantPolicy, admin: AdminService) -> Tenant:
    """Replace a tenant's whole policy (a running experiment must be named, or null)."""
    return await admin.set_policy(name, policy)


@router.patch("/tenants/{name}/policy")
async def patch_policy(name: TenantName, patch: PolicyPatch, admin: AdminService) -> Tenant:
    """Change the policy fields the body names; null resets one (JSON merge patch)."""
    return await admin.patch_policy(name, patch)


@router.put("/tenants/{name}/limits")
async def set_limits(name: TenantName, limits: TenantLimits, admin: AdminService) -> Tenant:
    """Replace a tenant's limits."""
    return await admin.set_limits(name, limits)


@router.post("/tenants/{name}/keys", status_code=201)
async def create_key(name: TenantName, body: NewKeyRequest, admin: AdminService) -> NewKey:
    """Create a key; its value is shown only in this response."""
    return await admin.create_key(name, body.label)


@router.get("/tenants/{name}/keys")
async def list_keys(name: TenantName, admin: AdminService) -> list[KeyView]:
    """A tenant's keys, without values."""
    return await admin.list_keys(name)


@router.delete("/tenants/{name}/keys/{key_id}", status_code=204)
async def delete_key(name: TenantName, key_id: KeyId, admin: AdminService) -> Response:
    """Revoke a key."""
    await admin.delete_key(name, key_id)
    return Response(status_code=204)


@router.put("/tenants/{name}/experiments/{experiment}")
async def put_experiment(
    name: TenantName, experiment: ExperimentName, body: Experiment, admin: AdminService
) -> Tenant:
    """Create or replace an experiment; the URL names it, whatever the body says."""
    return await admin.put_experiment(name, body.model_copy(update={"name": experiment}))


@router.delete("/tenants/{name}/experiments/{experiment}")
async def delete_experiment(
    name: TenantName, experiment: ExperimentName, admin: AdminService
) -> Tenant:
    """Delete an experiment."""
    return await admin.delete_experiment(name, experiment)
