"""The one mapping of a handler's answer to HTTP: JSON for a completion, SSE for a stream."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from gateway.handler import Completed, Streaming
from gateway.protocol import ChatCompletion


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
