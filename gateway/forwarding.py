"""Passthrough policy: which forwarded route a path is, whether a tenant may use it, its cost.

Only routes named here are ever forwarded; an unknown path is a 404 rather than a
guess, because the upstream may route a path the gateway does not know to something
that generates text.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Any

from gateway.errors import InvalidRequest, NotFound, PermissionDenied
from gateway.pipeline.plan import StagePlanner
from gateway.protocol import Usage
from gateway.tenants.models import PassthroughRoute, Tenant, TenantLimits

# Routes whose answers carry model text that a tenant's stages would have corrected
# (directly, or stored upstream to be read later): a tenant with stages cannot reach
# them through this forwarder at all. ``POST /v1/completions`` and ``/v1/responses``
# are served by their own routes through the stages and never get here; they stay
# listed so that no other way of reaching them can skip the stages.
GENERATING: frozenset[str] = frozenset(
    {
        "completions",
        "responses",
        "stored_responses",
        "stored_chat_completions",
        "threads",
        "batches",
    }
)
# Created with one POST to exactly this path; any other method or depth is unknown.
_SINGLE_POST = frozenset({"embeddings", "moderations", "completions"})
# Provider-side objects: every method and sub-path belongs to the route.
_OBJECTS: frozenset[PassthroughRoute] = frozenset(
    {
        "files",
        "batches",
        "assistants",
        "threads",
        "vector_stores",
        "uploads",
        "fine_tuning",
        "images",
        "audio",
    }
)
# Usage is the last token counts in the answer (a JSON body's or a stream's final
# event); only a bounded tail is kept, so any answer size costs constant memory.
_TOKENS = {
    field: re.compile(rb'"' + field.encode() + rb'"\s*:\s*(\d+)')
    for field in ("prompt_tokens", "completion_tokens", "total_tokens")
}
_TAIL_BYTES = 4096
# Fields of forwarded bodies that carry prompt text or ask for output tokens.
_PROMPT_FIELDS = ("input", "prompt", "instructions", "messages")
_MAX_TOKEN_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


def route_name(method: str, segments: tuple[str, ...]) -> str | None:
    """The allow-list name of a forwarded path, or None when no known route matches."""
    head, rest = segments[0], segments[1:]
    if segments[:2] == ("chat", "completions"):
        # POST to exactly this path is the chat route's; it only gets here misspelled.
        exact = len(segments) == 2
        return "chat" if method == "POST" and exact else "stored_chat_completions"
    if head == "responses":
        return "responses" if method == "POST" and not rest else "stored_responses"
    if head == "models":
        if method == "GET" and len(rest) <= 1:
            return "models"
        # DELETE /v1/models/{id} deletes a fine-tuned model.
        return "fine_tuning" if method == "DELETE" and len(rest) == 1 else None
    if head in _SINGLE_POST:
        return head if method == "POST" and not rest else None
    return head if head in _OBJECTS else None


def check_route(name: str | None, path: str, allowed: Collection[str]) -> str:
    """The route's name if it is known and may be allowed; else 404 (unknown) or 403."""
    if name is None or name == "chat":
        raise NotFound(f"/v1/{path} is not a route this gateway serves", code="unknown_route")
    # A generation route waits for check_aligned, whose refusal says more.
    if name not in allowed and name not in GENERATING:
        raise _not_allowed(path, name)
    return name


def check_aligned(name: str, path: str, allowed: Collection[str], has_stages: bool) -> None:
    """403 for a generation route when the tenant has stages (or lacks the route)."""
    if name in GENERATING and has_stages:
        raise PermissionDenied(
            f"/v1/{path} generates text that this tenant's alignment stages cannot check "
            "yet; use /v1/chat/completions",
            code="route_not_aligned",
        )
    if name not in allowed:
        raise _not_allowed(path, name)


def _not_allowed(path: str, name: str) -> PermissionDenied:
    return PermissionDenied(
        f"/v1/{path} is not enabled for this tenant (route '{name}' is not in its "
        "passthrough list)",
        code="route_not_allowed",
    )


def tenant_has_stages(planner: StagePlanner, route_pipeline: list[str], tenant: Tenant) -> bool:
    """Whether any stage would run for this tenant on the route, in any experiment arm."""
    experiment = tenant.experiments.get(tenant.policy.experiment or "")
    arms = [None, *(experiment.arms if experiment is not None else [])]
    for arm in arms:
        pipeline = planner.plan(route_pipeline, tenant, arm)
        if pipeline.pre or pipeline.post:
            return True
    return False


def check_body_limits(limits: TenantLimits, payload: dict[str, Any] | None) -> None:
    """400 when a forwarded body is over the tenant's prompt, message or token limits."""
    if payload is None:
        return
    messages = payload.get("messages")
    count = len(messages) if isinstance(messages, list) else 0
    if limits.max_messages is not None and count > limits.max_messages:
        raise _over(f"too many messages: {count} > {limits.max_messages}", "messages")
    if limits.max_prompt_chars is not None:
        chars = sum(_text_length(payload.get(field)) for field in _PROMPT_FIELDS)
        if chars > limits.max_prompt_chars:
            raise _over(f"prompt too long: {chars} > {limits.max_prompt_chars} characters", "input")
    for field in _MAX_TOKEN_FIELDS:
        asked = payload.get(field)
        if limits.max_tokens is not None and isinstance(asked, int) and asked > limits.max_tokens:
            raise _over(f"{field} {asked} is over this key's limit of {limits.max_tokens}", field)


def _over(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="limit_exceeded")


def _text_length(value: Any) -> int:
    """Characters of every string inside a JSON value (message lists, content parts)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_length(item) for item in value)
    if isinstance(value, dict):
        return sum(_text_length(item) for item in value.values())
    return 0


async def metered(
    body: AsyncIterator[bytes], finish: Callable[[Usage | None], Awaitable[None]]
) -> AsyncIterator[bytes]:
    """Relay ``body``; at its end, however it ends, report the tokens the answer used."""
    tail = b""
    try:
        async for piece in body:
            tail = (tail + piece)[-_TAIL_BYTES:]
            yield piece
    finally:
        await finish(_usage(tail))


def _usage(tail: bytes) -> Usage | None:
    """The last counts of each kind in an answer's tail; None without a total."""
    found = {field: pattern.findall(tail) for field, pattern in _TOKENS.items()}
    if not found["total_tokens"]:
        return None
    return Usage.model_validate({field: int(hits[-1]) for field, hits in found.items() if hits})
