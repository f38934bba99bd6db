"""The gateway's errors as typed values, each with its HTTP status and OpenAI error type.

``to_response`` is the OpenAI error body (also sent as an SSE event when a stream
fails) and ``error_response`` the JSON response made of it. Not every error passes
through here yet: the model server has its own error type
(gateway/model_server/serving.py) and gateway/app.py renders Starlette's HTTP errors.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from gateway.protocol import ErrorBody, ErrorResponse


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
        return ErrorResponse(
            error=ErrorBody(
                message=self.message, type=self.error_type, param=self.param, code=self.code
            )
        )


def error_response(error: GatewayError) -> JSONResponse:
    """A typed error as a response: OpenAI's error JSON, its status and its headers."""
    return JSONResponse(
        error.to_response().model_dump(), status_code=error.status_code, headers=error.headers
    )


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
