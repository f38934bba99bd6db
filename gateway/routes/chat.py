"""``POST /v1/chat/completions``: parse, hand to the generation handler, map the answer."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.dependencies import CallContextDep, ServicesDep, TenantDep
from gateway.protocol import ChatCompletionRequest
from gateway.routes.respond import generation, json_or_stream
from gateway.sse import ChunkEvents

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionRequest,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    context: CallContextDep,
) -> Response:
    """Run the request through its tenant's stages and the model's backend."""
    chat = generation("chat", body, request, tenant, context, body.user)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    answer = await services.handler.handle(chat, ChunkEvents(include_usage))
    return json_or_stream(answer, lambda completion: completion)
