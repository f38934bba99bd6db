"""Errors as typed values, each with its HTTP status and OpenAI error type.

``error_envelope`` builds OpenAI's error JSON, the one shape every error reaches a
client in: a typed error's ``to_response`` (also sent as an SSE event when a stream
fails), a request that fails validation, and Starlette's own HTTP errors. The gateway
and the model server install the same handlers with ``add_error_handlers``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from gateway.protocol import ErrorBody, ErrorResponse

# The OpenAI error type of Starlette's own errors (unknown route, body too large, ...).
_HTTP_TYPES = {
    401: "authentication_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
}


def error_envelope(
    message: str, error_type: str, *, param: str | None = None, code: str | None = None
) -> ErrorResponse:
    """OpenAI's error JSON: ``{"error": {"message", "type", "param", "code"}}``."""
    return ErrorResponse(error=ErrorBody(message=message, type=error_type, param=param, code=code))


class GatewayError(Exception):
    """An error a client should see, with its HTTP status and OpenAI error type."""

    status_code = 500
    error_type = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    def to_response(self) -> ErrorResponse:
        """The error as OpenAI's error JSON."""
        return error_envelope(self.message, self.error_type, param=self.param, code=self.code)


def error_response(error: GatewayError) -> JSONResponse:
    """A typed error as a response: OpenAI's error JSON, its status and its headers."""
    return JSONResponse(
        error.to_response().model_dump(), status_code=error.status_code, headers=error.headers
    )


def add_error_handlers(app: FastAPI) -> None:
    """Answer typed, validation and HTTP errors of ``app`` as OpenAI's error JSON."""
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)


async def _gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    # OpenAI clients expect 400 with an error object naming the field, not FastAPI's 422.
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location) or None
    reason = str(first.get("msg", "invalid request"))
    if param is None and not _is_json(request.headers.get("content-type")):
        # curl -d sends a form by default; the body was never read as JSON at all.
        reason = "send the body as JSON, with the header content-type: application/json"
    message = f"{param}: {reason}" if param else reason
    return error_response(InvalidRequest(message, param=param, code="invalid_request"))


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "application/json").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    error_type = _HTTP_TYPES.get(exc.status_code, "invalid_request_error")
    body = error_envelope(str(exc.detail), error_type)
    return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)


class InvalidRequest(GatewayError):
    """The request is malformed or asks for something impossible (400)."""

    status_code = 400
    error_type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    """No API key, or one the gateway does not know (401)."""

    status_code = 401
    error_type = "authentication_error"


class PermissionDenied(GatewayError):
    """The key is known but may not do this (403)."""

    status_code = 403
    error_type = "permission_error"


class NotFound(GatewayError):
    """An unknown model or route (404)."""

    status_code = 404
    error_type = "invalid_request_error"


class RequestTimeout(GatewayError):
    """The client did not send its whole request body in time (408)."""

    status_code = 408
    error_type = "invalid_request_error"


class PayloadTooLarge(GatewayError):
    """The request body is over the size limit (413)."""

    status_code = 413
    error_type = "invalid_request_error"


class RateLimited(GatewayError):
    """Too many requests (429); carries Retry-After when known."""

    status_code = 429
    error_type = "rate_limit_error"


class BackendError(GatewayError):
    """The backend failed or answered with something unusable (502)."""

    status_code = 502
    error_type = "api_error"


class BackendTimeout(GatewayError):
    """The backend did not answer in time (504)."""

    status_code = 504
    error_type = "timeout_error"


class StageFailed(GatewayError):
    """A fail-closed alignment stage failed, so no answer is given (503)."""

    status_code = 503
    error_type = "alignment_stage_error"


class Conflict(GatewayError):
    """The resource already exists (409)."""

    status_code = 409
    error_type = "invalid_request_error"


class BackendUnavailable(GatewayError):
    """The backend's circuit is open after repeated failures (503, with Retry-After)."""

    status_code = 503
    error_type = "api_error"


class Overloaded(GatewayError):
    """The gateway is past its capacity and sheds new requests (503, with Retry-After)."""

    status_code = 503
    error_type = "api_error"
