"""``POST /v1/completions`` (legacy text): each prompt through the generation handler."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.completions_api import chunk_from_chat, from_chat, merged, to_chat
from gateway.completions_protocol import CompletionRequest
from gateway.dependencies import CallContextDep, ServicesDep, TenantDep
from gateway.errors import InvalidRequest
from gateway.routes.respond import generation, json_or_stream
from gateway.sse import ChunkEvents

router = APIRouter()


@router.post("/v1/completions", response_model=None)
async def create_completion(
    body: CompletionRequest,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    context: CallContextDep,
) -> Response:
    """Answer each prompt as a chat request run through the tenant's stages."""
    prompts = body.prompts()
    if body.stream and len(prompts) > 1:
        raise InvalidRequest("a streamed completion takes one prompt", param="prompt")
    generations = [
        generation("completions", to_chat(body, prompt), request, tenant, context, body.user)
        for prompt in prompts
    ]
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = ChunkEvents(include_usage, chunk_from_chat)
        return json_or_stream(await services.handler.handle(generations[0], events), from_chat)
    answers = [await services.handler.complete(generation) for generation in generations]
    return json_or_stream(merged(answers), from_chat)
