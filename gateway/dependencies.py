"""FastAPI dependencies: the services of this app and the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.auth import Tenant, bearer_token
from gateway.backends.base import CallContext
from gateway.middleware import request_id_from
from gateway.services import Services


def get_services(request: Request) -> Services:
    """The services this app was built with."""
    services: Services = request.app.state.services
    return services


def get_tenant(request: Request, services: Annotated[Services, Depends(get_services)]) -> Tenant:
    """The authenticated tenant; 401 when keys are required and missing or wrong."""
    return services.auth.authenticate(bearer_token(request.headers.get("authorization")))


def get_call_context(request: Request) -> CallContext:
    """What backends may need about the caller."""
    return CallContext(
        client_api_key=bearer_token(request.headers.get("authorization")),
        request_id=request_id_from(request.scope),
    )


ServicesDep = Annotated[Services, Depends(get_services)]
TenantDep = Annotated[Tenant, Depends(get_tenant)]
CallContextDep = Annotated[CallContext, Depends(get_call_context)]
