"""The tracing seam the gateway codes against, and its no-op implementation.

Spans are passed explicitly (a request span to its stages, an attempt span in the
call context) rather than through an ambient context: a streamed answer's generator
runs in another task than the route, where an ambient span would be gone.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Literal, Protocol

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[int]
Attributes = Mapping[str, AttributeValue | None]
SpanKind = Literal["internal", "client", "server"]


class Span(Protocol):
    """One timed operation of a trace; attributes whose value is None are left out."""

    @property
    def recording(self) -> bool:
        """Whether anything set on this span is kept (false: skip computing attributes)."""
        ...

    @property
    def trace_id(self) -> str:
        """The trace's id as 32 hex digits; all zeros when not recording."""
        ...

    def child(
        self, name: str, attributes: Attributes | None = None, kind: SpanKind = "internal"
    ) -> Span:
        """A new span under this one, started now."""
        ...

    def set(self, attributes: Attributes) -> None:
        """Add or replace attributes."""
        ...

    def fail(self, error_type: str, message: str | None = None) -> None:
        """Mark the operation failed (status error, ``error.type``)."""
        ...

    def end(self) -> None:
        """End the span now; later calls do nothing."""
        ...

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Add W3C ``traceparent``/``tracestate`` headers naming this span as the parent."""
        ...


class Tracer(Protocol):
    """Starts the root span of each request and flushes spans at shutdown."""

    @property
    def enabled(self) -> bool:
        """False for the no-op tracer: callers may skip wrapping anything."""
        ...

    def request_span(self, name: str, attributes: Attributes, incoming: Mapping[str, str]) -> Span:
        """A request's span, continuing the client's trace when ``incoming`` has a traceparent."""
        ...

    def shutdown(self) -> None:
        """Export what is pending and stop."""
        ...


class NoSpan:
    """The span of a request that is not traced: every call does nothing."""

    @property
    def recording(self) -> bool:
        """Never."""
        return False

    @property
    def trace_id(self) -> str:
        """No trace."""
        return "0" * 32

    def child(
        self, name: str, attributes: Attributes | None = None, kind: SpanKind = "internal"
    ) -> Span:
        """Itself: children of nothing are nothing."""
        return self

    def set(self, attributes: Attributes) -> None:
        """Nothing."""

    def fail(self, error_type: str, message: str | None = None) -> None:
        """Nothing."""

    def end(self) -> None:
        """Nothing."""

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Nothing: the upstream sees no trace headers from an untraced gateway."""


class NoTracer:
    """Tracing off: one shared no-op span, no import of OpenTelemetry."""

    @property
    def enabled(self) -> bool:
        """Never."""
        return False

    def request_span(self, name: str, attributes: Attributes, incoming: Mapping[str, str]) -> Span:
        """The no-op span."""
        return NO_SPAN

    def shutdown(self) -> None:
        """Nothing to flush."""


NO_SPAN = NoSpan()
NO_TRACER = NoTracer()
