"""FastAPI dependencies: the services of this app and the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.backends.base import CallContext
from gateway.errors import AuthenticationFailed
from gateway.middleware import request_id_from
from gateway.services import Services
from gateway.tenants.auth import OPEN_TENANT, check_admin_key
from gateway.tenants.keys import bearer_token
from gateway.tenants.models import Tenant


async def get_services(request: Request) -> Services:
    """The services this app was built with."""
    services: Services = request.app.state.services
    return services


async def get_tenant(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Tenant:
    """The authenticated tenant; 401 when keys are required and missing or wrong."""
    try:
        return await services.auth.authenticate(bearer_token(request.headers.get("authorization")))
    except AuthenticationFailed as error:
        services.observer.rejected(request_id_from(request.scope), request.url.path, error)
        raise


async def require_admin(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> None:
    """The admin API's own key; tenant keys never pass."""
    admin_key = services.settings.admin_key
    try:
        check_admin_key(
            bearer_token(request.headers.get("authorization")),
            admin_key.get_secret_value() if admin_key is not None else None,
        )
    except AuthenticationFailed as error:
        services.observer.rejected(request_id_from(request.scope), request.url.path, error)
        raise


async def get_call_context(
    request: Request, tenant: Annotated[Tenant, Depends(get_tenant)]
) -> CallContext:
    """What backends may need about the caller.

    The client's key goes upstream (for ``forward_client_key``) only while the gateway
    runs open: then it is the caller's own upstream key. Once tenants exist it is a
    gateway key, a secret of the tenant that the upstream must never see.
    """
    open_mode = tenant is OPEN_TENANT
    return CallContext(
        client_api_key=bearer_token(request.headers.get("authorization")) if open_mode else None,
        request_id=request_id_from(request.scope),
    )


ServicesDep = Annotated[Services, Depends(get_services)]
TenantDep = Annotated[Tenant, Depends(get_tenant)]
CallContextDep = Annotated[CallContext, Depends(get_call_context)]
AdminDep = Annotated[None, Depends(require_admin)]
