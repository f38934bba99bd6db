"""HTTP routes of the model server; the logic lives in ``serving.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from gateway.completions_protocol import Completion, CompletionRequest
from gateway.model_server.serving import Chunks, ModelServing
from gateway.protocol import ChatCompletion, ChatCompletionRequest
from gateway.sse import event_stream

router = APIRouter()


def get_serving(request: Request) -> ModelServing:
    """The serving object the app was created with."""
    serving: ModelServing = request.app.state.serving
    return serving


Serving = Annotated[ModelServing, Depends(get_serving)]


@router.get("/v1/models")
async def list_models(serving: Serving) -> JSONResponse:
    """The base model and its LoRA adapters."""
    return JSONResponse(serving.models().to_wire())


@router.get("/health")
async def health(serving: Serving) -> Response:
    """200 once the engine can serve requests, 503 before."""
    return Response(status_code=200 if await serving.engine.ready() else 503)


@router.post("/v1/completions", response_model=None)
async def completions(body: CompletionRequest, serving: Serving) -> Response:
    """Text completion."""
    return to_response(await serving.complete(body))


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, serving: Serving) -> Response:
    """Chat completion."""
    return to_response(await serving.chat(body))


def to_response(result: Completion | ChatCompletion | Chunks) -> Response:
    """A JSON response, or server-sent events ending with ``data: [DONE]`` for a stream."""
    if isinstance(result, Completion | ChatCompletion):
        return JSONResponse(result.to_wire())
    return StreamingResponse(event_stream(result), media_type="text/event-stream")
