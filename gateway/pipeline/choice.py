"""A client's choice of stages for one request: a body field or a header, never more.

Three spellings name the same thing: ``"aligngate": {"stages": [...]}`` in the body,
LiteLLM's ``"guardrails": [...]`` in the body, or the ``x-aligngate-stages: bpo,aligner``
header (the first one present is used, in that order). The choice only selects among
the stages the tenant's plan runs (``StagePlanner.plan`` enforces it): naming a stage
outside the plan is a 400, a stage left out is dropped only if it fails open, and the
plan's order is kept. The body fields are the gateway's, so they never go upstream.
"""

from __future__ import annotations

from typing import Any, TypeVar

from gateway.errors import InvalidRequest
from gateway.protocol import WireModel

Body = TypeVar("Body", bound=WireModel)
STAGES_HEADER = "x-aligngate-stages"
_BODY_FIELDS = ("aligngate", "guardrails")


def requested_stages(body: WireModel, header: str | None) -> tuple[str, ...] | None:
    """The stage names the client chose, or None when it chose nothing."""
    extra = body.model_extra or {}
    if "aligngate" in extra:
        value = extra["aligngate"]
        if not isinstance(value, dict) or set(value) - {"stages"}:
            raise InvalidRequest(
                "'aligngate' must be an object with a 'stages' list", param="aligngate"
            )
        return _names(value.get("stages", []), "aligngate.stages") if "stages" in value else None
    if "guardrails" in extra:
        return _names(extra["guardrails"], "guardrails")
    if header is not None:
        return tuple(name.strip() for name in header.split(",") if name.strip())
    return None


def _names(value: Any, param: str) -> tuple[str, ...]:
    """A list of stage names; LiteLLM's ``[{"name": {...}}]`` entries count by their key."""
    if not isinstance(value, list):
        raise InvalidRequest(f"'{param}' must be a list of stage names", param=param)
    names: list[str] = []
    for item in value:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item)), str):
            names.append(next(iter(item)))
        else:
            raise InvalidRequest(f"'{param}' must be a list of stage names", param=param)
    return tuple(names)


def without_choice(body: Body) -> Body:
    """The body without the gateway's own fields, which must not reach the upstream."""
    extra = body.model_extra or {}
    if not any(name in extra for name in _BODY_FIELDS):
        return body
    copy = body.model_copy(deep=False)
    copy.__pydantic_extra__ = {k: v for k, v in extra.items() if k not in _BODY_FIELDS}
    return copy
