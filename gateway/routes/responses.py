"""``POST /v1/responses`` (the Responses API, stateless) through the generation handler."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.dependencies import CallContextDep, ServicesDep, TenantDep
from gateway.responses_api import ResponseEvents, from_chat, to_chat
from gateway.responses_protocol import ResponsesRequest
from gateway.routes.respond import generation, json_or_stream

router = APIRouter()


@router.post("/v1/responses", response_model=None)
async def create_response(
    body: ResponsesRequest,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    context: CallContextDep,
) -> Response:
    """Answer the input as a chat request run through the tenant's stages."""
    chat = generation("responses", to_chat(body), request, tenant, context, body.user, body)
    answer = await services.handler.handle(chat, ResponseEvents(body))
    return json_or_stream(answer, lambda completion: from_chat(completion, body))
