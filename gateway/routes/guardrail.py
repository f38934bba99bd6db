"""``POST /beta/litellm_basic_guardrail_api``: LiteLLM's Generic Guardrail API, over the stages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway.dependencies import ServicesDep
from gateway.errors import AuthenticationFailed
from gateway.integrations.guardrail_api import GuardrailApiRequest, GuardrailApiResponse
from gateway.middleware import request_id_from
from gateway.tenants.keys import bearer_token
from gateway.tenants.models import Tenant

router = APIRouter()


async def guardrail_tenant(request: Request, services: ServicesDep) -> Tenant:
    """The tenant of a tenant key, sent as a bearer token or as LiteLLM's ``x-api-key``.

    LiteLLM's generic guardrail sends its configured ``api_key`` as ``x-api-key``; a
    bearer token works as on every other route.
    """
    authorization = request.headers.get("authorization")
    token = bearer_token(authorization) if authorization else request.headers.get("x-api-key")
    try:
        return await services.auth.authenticate(token)
    except AuthenticationFailed as error:
        services.observer.rejected(request_id_from(request.scope), request.url.path, error)
        raise


@router.post("/beta/litellm_basic_guardrail_api", response_model_exclude_none=True)
async def check_with_stages(
    body: GuardrailApiRequest,
    request: Request,
    services: ServicesDep,
    tenant: Annotated[Tenant, Depends(guardrail_tenant)],
) -> GuardrailApiResponse:
    """Run the tenant's pre-call stages on a request's texts, or its post-call ones on an answer."""
    return await services.guardrails.check(body, tenant, request_id_from(request.scope))
