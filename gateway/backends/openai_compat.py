"""The direct path: any OpenAI-compatible server over HTTP, without litellm."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from gateway.backends.base import CallContext, ForwardRequest, ForwardResponse
from gateway.backends.upstream_http import UpstreamClient, UpstreamResponse
from gateway.errors import (
    AuthenticationFailed,
    BackendError,
    BackendTimeout,
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
)
from gateway.paths import forwarded_segments, invalid_path
from gateway.protocol import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ModelCard
from gateway.sse import StreamTruncated, iter_data

# Upstream statuses that mean the client's request was at fault, passed on as such.
_CLIENT_FAULTS: dict[int, type[GatewayError]] = {
    400: InvalidRequest,
    404: NotFound,
    422: InvalidRequest,
}
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
}


class OpenAICompatibleBackend:
    """Calls ``{api_base}/chat/completions`` and friends over HTTP (see upstream_http.py)."""

    def __init__(
        self,
        *,
        api_base: str,
        model: str,
        api_key: str | None,
        forward_client_key: bool,
        timeout_s: float,
        connect_timeout_s: float,
        first_byte_timeout_s: float,
        idle_timeout_s: float,
        stream_deadline_s: float = 600.0,
    ) -> None:
        self._model = model
        self._api_key = api_key
        self._forward_client_key = forward_client_key
        self._timeout_s = timeout_s
        self._stream_deadline_s = stream_deadline_s
        self._base = httpx.URL(api_base.rstrip("/") + "/")
        self._client = UpstreamClient(
            connect_timeout_s=connect_timeout_s,
            first_byte_timeout_s=first_byte_timeout_s,
            idle_timeout_s=idle_timeout_s,
        )

    def _headers(self, context: CallContext) -> dict[str, str]:
        key = self._api_key
        if key is None and self._forward_client_key:
            key = context.client_api_key
        headers = {"x-request-id": context.request_id} if context.request_id else {}
        if key:
            headers["authorization"] = f"Bearer {key}"
        context.span.inject(headers)  # the attempt's span is the upstream's parent
        return headers

    def _body(self, request: ChatCompletionRequest) -> dict[str, Any]:
        body = request.to_wire()
        body["model"] = self._upstream_model(request.model)
        return body

    def _upstream_model(self, requested: str) -> str:
        return requested if self._model == "*" else self._model

    async def complete(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> ChatCompletion:
        """POST the request and parse the completion."""
        body = self._body(request)
        body["stream"] = False
        body.pop("stream_options", None)
        try:
            response = await asyncio.wait_for(
                self._send("POST", "chat/completions", body, context), self._timeout_s
            )
        except TimeoutError as exc:
            raise BackendTimeout("the backend did not finish its answer in time") from exc
        try:
            completion = ChatCompletion.model_validate_json(response)
        except ValidationError as exc:
            raise BackendError("the backend returned a malformed completion") from exc
        return completion

    async def stream(
        self, request: ChatCompletionRequest, context: CallContext
    ) -> AsyncIterator[ChatCompletionChunk]:
        """POST with ``stream: true`` and yield the parsed chunks."""
        body = self._body(request)
        body["stream"] = True
        response = await self._open(
            "POST", self._url("chat/completions"), _json(body), self._json_headers(context)
        )
        lines = response.lines()
        try:
            async for data in iter_data(lines, require_done=True):
                yield _parse_chunk(data)
        except StreamTruncated as exc:
            raise BackendError("the backend's stream broke off") from exc
        finally:
            await lines.aclose()
            response.close()

    async def list_models(self, context: CallContext) -> list[ModelCard]:
        """The upstream's own ``/models``."""
        response = await self._send("GET", "models", None, context)
        try:
            return [ModelCard.model_validate(item) for item in json.loads(response)["data"]]
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise BackendError("the backend returned a malformed model list") from exc

    async def forward(self, request: ForwardRequest, context: CallContext) -> ForwardResponse:
        """Send a raw request upstream and stream its answer back unchanged."""
        headers = self._headers(context)
        if request.content_type:
            headers["content-type"] = request.content_type
        # Validated again here, whoever the caller: the segments are plain characters
        # only, so joining them is the encoded path and httpx can only read it as
        # relative to the base URL.
        relative = "/".join(forwarded_segments(request.path))
        try:
            # The URL model is httpx's, as the check below is written against it;
            # nothing is sent with httpx.
            url = httpx.Request(
                request.method,
                self._base.copy_with(raw_path=self._base.raw_path + relative.encode("ascii")),
                params=httpx.QueryParams(request.query),
            ).url
        except (httpx.InvalidURL, UnicodeEncodeError) as exc:
            raise InvalidRequest("the request path or query is not a valid URL") from exc
        _check_under_base(url, self._base)
        content = _replace_model(request.body, self._upstream_model)
        response = await self._open(
            request.method, str(url), content or None, headers, raise_for_status=False
        )
        # The body is relayed decoded (the client undoes gzip/deflate), so content-encoding
        # is dropped with it; length and framing are the gateway's own.
        kept = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP}
        return ForwardResponse(
            status_code=response.status_code, headers=kept, body=response.pieces()
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _url(self, path: str) -> str:
        return str(self._base) + path

    def _json_headers(self, context: CallContext) -> dict[str, str]:
        return {**self._headers(context), "content-type": "application/json"}

    async def _send(
        self, method: str, path: str, body: dict[str, Any] | None, context: CallContext
    ) -> bytes:
        """A whole answer's body, read within ``timeout_s`` from now."""
        content = None if body is None else _json(body)
        headers = self._json_headers(context) if body is not None else self._headers(context)
        response = await self._open(
            method, self._url(path), content, headers, deadline_s=self._timeout_s
        )
        return await response.read()

    async def _open(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        *,
        raise_for_status: bool = True,
        deadline_s: float | None = None,
    ) -> UpstreamResponse:
        """Send and wait for the headers; the body is then timed by the response.

        Its deadline counts from now: ``deadline_s``, or the stream deadline when not given.
        """
        deadline = self._stream_deadline_s if deadline_s is None else deadline_s
        response = await self._client.open(
            method, url, body=body, headers=headers, deadline_s=deadline
        )
        if raise_for_status and response.status_code >= 400:
            payload = await response.read()
            raise _status_error(
                response.status_code,
                response.headers,
                payload,
                client_key_used=self._api_key is None,
            )
        return response


def _check_under_base(url: httpx.URL, base: httpx.URL) -> None:
    """Refuse any forwarded URL that is not the configured base URL plus a path below it."""
    same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
    if not same_origin or not url.path.startswith(base.path) or url.path == base.path:
        raise invalid_path("this path cannot be forwarded upstream")


def _json(body: dict[str, Any]) -> bytes:
    """A request body as compact JSON, as OpenAI's own clients send it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _parse_chunk(data: str) -> ChatCompletionChunk:
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise BackendError("the backend sent a malformed stream event") from exc
    if isinstance(payload, dict) and "error" in payload:
        raise BackendError(f"the backend failed mid-stream: {_upstream_message(payload)}")
    try:
        return ChatCompletionChunk.model_validate(payload)
    except ValidationError as exc:
        raise BackendError("the backend sent a malformed stream chunk") from exc


def _replace_model(body: bytes, upstream_model: Any) -> bytes:
    """Rewrite the ``model`` field of a JSON body to the upstream's name."""
    if not body:
        return body
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if isinstance(payload, dict) and isinstance(payload.get("model"), str):
        payload["model"] = upstream_model(payload["model"])
        return json.dumps(payload).encode()
    return body


def _upstream_message(payload: Any) -> str:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:500]
    if isinstance(error, str):
        return error[:500]
    return "no message"


def _status_error(
    status: int, headers: Mapping[str, str], payload: bytes, *, client_key_used: bool
) -> GatewayError:
    try:
        message = _upstream_message(json.loads(payload))
    except ValueError:
        message = "no message"
    if status in _CLIENT_FAULTS:
        return _CLIENT_FAULTS[status](f"the backend rejected the request: {message}")
    if status == 429:
        retry = headers.get("retry-after")
        return RateLimited(
            f"the backend is rate limiting: {message}",
            headers={"retry-after": retry} if retry else None,
        )
    if status == 401 and client_key_used:
        return AuthenticationFailed(f"the backend rejected your API key: {message}")
    if status in (401, 403):
        return BackendError("the backend rejected the gateway's credentials")
    if status == 504:
        return BackendTimeout("the backend timed out")
    return BackendError(f"the backend failed with status {status}: {message}")
