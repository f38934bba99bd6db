"""Per-tenant request limits checked before any work is done."""

from __future__ import annotations

from gateway.errors import InvalidRequest
from gateway.protocol import ChatCompletionRequest
from gateway.tenants.models import TenantLimits


def check_limits(limits: TenantLimits, request: ChatCompletionRequest) -> None:
    """400 when the request is over the tenant's message, prompt or token limits."""
    if limits.max_messages is not None and len(request.messages) > limits.max_messages:
        raise InvalidRequest(
            f"too many messages: {len(request.messages)} > {limits.max_messages}",
            param="messages",
            code="limit_exceeded",
        )
    if limits.max_prompt_chars is not None:
        chars = sum(len(m.text() or "") for m in request.messages)
        if chars > limits.max_prompt_chars:
            raise InvalidRequest(
                f"prompt too long: {chars} > {limits.max_prompt_chars} characters",
                param="messages",
                code="limit_exceeded",
            )
    if limits.max_tokens is None:
        return
    # Both fields are checked: backends differ in which one they honour when both are set.
    for param, asked in (
        ("max_completion_tokens", request.max_completion_tokens),
        ("max_tokens", request.max_tokens),
    ):
        if asked is not None and asked > limits.max_tokens:
            raise InvalidRequest(
                f"{param} {asked} is over this key's limit of {limits.max_tokens}",
                param=param,
                code="limit_exceeded",
            )
