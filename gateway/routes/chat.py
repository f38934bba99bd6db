"""``POST /v1/chat/completions``."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from gateway.chat_service import ChatStream
from gateway.dependencies import CallContextDep, ServicesDep, TenantDep
from gateway.errors import GatewayError
from gateway.pipeline.trace import RequestTrace
from gateway.protocol import ChatCompletion, ChatCompletionRequest

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionRequest,
    services: ServicesDep,
    tenant: TenantDep,
    context: CallContextDep,
) -> Response:
    """Run the request through the model's pipeline and backend."""
    trace = RequestTrace(request_id=context.request_id)
    started, status = time.perf_counter(), 200
    try:
        result = await services.chat.create(services.target(body.model), body, context, trace)
    except GatewayError as exc:
        status = exc.status_code
        raise
    finally:
        services.record(tenant, body.model, trace, status, time.perf_counter() - started)
    headers = {"x-aligngate-stages": trace.stages_header()}
    if isinstance(result, ChatStream):
        return StreamingResponse(result.events, media_type="text/event-stream", headers=headers)
    return _json(result, headers)


def _json(completion: ChatCompletion, headers: dict[str, str]) -> Response:
    return Response(
        content=completion.model_dump_json(exclude_unset=True),
        media_type="application/json",
        headers=headers,
    )
