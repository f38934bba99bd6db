"""What every generation route shares: who asks (from the HTTP request), and the one
mapping of a handler's answer to HTTP: JSON for a completion, SSE for a stream."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from gateway.backends.base import CallContext
from gateway.handler import Completed, Generation, Streaming
from gateway.pipeline.choice import STAGES_HEADER, requested_stages, without_choice
from gateway.protocol import ChatCompletion, ChatCompletionRequest, WireModel
from gateway.tenants.models import Tenant

# The W3C trace context a client may send, continued by the request's span.
_TRACE_HEADERS = ("traceparent", "tracestate")


def generation(
    route: str,
    chat: ChatCompletionRequest,
    request: Request,
    tenant: Tenant,
    context: CallContext,
    user: str | None,
    source: WireModel | None = None,
) -> Generation:
    """The handler's input: the chat request, the tenant, and the user and arm headers.

    The client's stage choice is read from ``source`` (the route's own body, when its
    translation to chat drops unknown fields) or the chat request, and taken off it.
    """
    stages = requested_stages(source or chat, request.headers.get(STAGES_HEADER))
    chat = without_choice(chat)
    return Generation(
        route=route,
        request=chat,
        tenant=tenant,
        context=context,
        user=user or request.headers.get("x-aligngate-user"),
        forced_arm=request.headers.get("x-aligngate-force-arm"),
        trace_headers={k: v for k in _TRACE_HEADERS if (v := request.headers.get(k)) is not None},
        stages=stages,
    )


def json_or_stream(
    answer: Completed | Streaming, to_wire: Callable[[ChatCompletion], BaseModel]
) -> Response:
    """The answer as the route's JSON (``to_wire`` translates it) or as its event stream."""
    if isinstance(answer, Streaming):
        return StreamingResponse(
            answer.events, media_type="text/event-stream", headers=answer.headers
        )
    return Response(
        content=to_wire(answer.completion).model_dump_json(exclude_unset=True),
        media_type="application/json",
        headers=answer.headers,
    )
