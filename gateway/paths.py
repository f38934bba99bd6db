"""The one spelling of a request path the gateway routes; every other spelling is refused.

Why refuse rather than normalise: the gateway routes on the decoded path, httpx
re-encodes it, and the upstream (or a proxy in front of it) decodes and perhaps
normalises it again. Any rewriting rule here would be one more interpretation that
can disagree with theirs, and a disagreement is exactly how ``/v1//chat/completions``
reached the backend's chat route while missing the gateway's. A path with nothing to
interpret cannot be read two ways, and no SDK sends anything else unless misconfigured
(a ``base_url`` ending in ``//``), which a clear 400 tells its owner about.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import InvalidRequest, error_response

# Percent-encoded separators: decoded, they would split (or not split) segments
# differently from how the router saw them.
_ENCODED_SEPARATOR = re.compile(rb"%(2f|5c)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What a forwarded path segment may hold: OpenAI's route names and object ids
# (``file-abc``, ``ft:gpt-4o:org:x``) need no more, and none of these characters
# means anything to a URL parser or an upstream's router.
_FORWARDED_SEGMENT = re.compile(r"^[A-Za-z0-9._~:-]+$")


def path_problem(path: str, raw_path: bytes) -> str | None:
    """Why ``path`` (decoded) or ``raw_path`` (as sent) is not canonical, or None."""
    if not path.startswith("/") or not raw_path.startswith(b"/"):
        return "the path must start with '/'"
    if _ENCODED_SEPARATOR.search(raw_path):
        return "the path has a percent-encoded '/' or '\\'"
    if "\\" in path:
        return "the path has a backslash"
    if "%" in path:
        return "the path is percent-encoded twice"
    if _CONTROL.search(path):
        return "the path has a control character"
    if path == "/":
        return None
    segments = path[1:].split("/")
    if "" in segments:
        return "the path has an empty segment (a doubled or trailing '/')"
    if "." in segments or ".." in segments:
        return "the path has a '.' or '..' segment"
    return None


def forwarded_segments(path: str) -> tuple[str, ...]:
    """The segments of a path relative to ``/v1``; 400 unless plain enough to forward."""
    segments = tuple(path.split("/"))
    for segment in segments:
        if segment in (".", "..") or not _FORWARDED_SEGMENT.match(segment):
            raise invalid_path("this path cannot be forwarded upstream")
    # A first segment with ':' would read as a URL scheme; no route name has one.
    if ":" in segments[0]:
        raise invalid_path("this path cannot be forwarded upstream")
    return segments


def invalid_path(reason: str) -> InvalidRequest:
    """The 400 every refused path gets."""
    return InvalidRequest(f"invalid request path: {reason}", code="invalid_path")


class CanonicalPathMiddleware:
    """Answers 400 to any request whose path is not canonical, before any route sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the decoded and the raw path; only a canonical one goes on."""
        if scope["type"] == "http":
            path = str(scope["path"])
            raw = scope.get("raw_path") or path.encode("utf-8", "surrogateescape")
            problem = path_problem(path, bytes(raw))
            if problem is not None:
                await error_response(invalid_path(problem))(scope, receive, send)
                return
        await self.app(scope, receive, send)
