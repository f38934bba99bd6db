"""``POST /v1/chat/completions``."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from gateway.backends.base import CallContext
from gateway.chat_service import ChatStream
from gateway.dependencies import CallContextDep, ServicesDep, TenantDep
from gateway.errors import GatewayError, StageFailed
from gateway.limits import check_limits
from gateway.observability import Finished
from gateway.pipeline.trace import RequestTrace
from gateway.protocol import ChatCompletion, ChatCompletionRequest
from gateway.services import Services
from gateway.tenants.models import Tenant

router = APIRouter()

# A failed stage is mostly a small-model server that is down or overloaded: worth a
# retry soon, not at once (an immediate retry storm would keep it overloaded).
STAGE_RETRY_AFTER_S = 5


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionRequest,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    context: CallContextDep,
) -> Response:
    """Run the request through its tenant's stages and the model's backend."""
    started = time.perf_counter()
    done = Finished(
        route="chat",
        model="unknown",
        tenant=tenant.name,
        trace=RequestTrace(request_id=context.request_id),
        status=200,
        seconds=0.0,
        log_content=tenant.policy.log_content,
        prompt=body.messages[-1].text() if tenant.policy.log_content else None,
    )
    try:
        result = await _serve(body, request, services, tenant, context, done)
    except GatewayError as exc:
        done.status, done.error_type = exc.status_code, exc.error_type
        if isinstance(exc, StageFailed):
            # The refusal says which stage failed and how, as a 200 would.
            exc.headers.setdefault("retry-after", str(STAGE_RETRY_AFTER_S))
            exc.headers["x-aligngate-stages"] = done.trace.stages_header()
        raise
    finally:
        done.seconds = time.perf_counter() - started
        await services.observer.finished(done)
        await services.quota.charge(tenant, done.trace.total_tokens)
    headers = {"x-aligngate-stages": done.trace.stages_header()}
    if done.trace.arm is not None:
        headers["x-aligngate-arm"] = done.trace.arm
    if isinstance(result, ChatStream):
        return StreamingResponse(result.events, media_type="text/event-stream", headers=headers)
    return Response(
        content=result.model_dump_json(exclude_unset=True),
        media_type="application/json",
        headers=headers,
    )


async def _serve(
    body: ChatCompletionRequest,
    request: Request,
    services: Services,
    tenant: Tenant,
    context: CallContext,
    done: Finished,
) -> ChatCompletion | ChatStream:
    route = services.route(body.model)
    done.model = services.model_label(route)
    check_limits(tenant.limits, body)
    await services.quota.admit(tenant)
    user = body.user or request.headers.get("x-aligngate-user")
    assignment = services.assigner.assign(
        tenant, user, request.headers.get("x-aligngate-force-arm")
    )
    if assignment is not None:
        done.trace.experiment, done.trace.arm = assignment.experiment, assignment.arm.name
    target = services.target(route, tenant, assignment)
    return await services.chat.create(target, body, context, done.trace)
