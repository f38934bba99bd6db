"""The seam over OpenTelemetry's SDK; imported only when tracing is configured.

The gateway keeps its own ``TracerProvider`` instead of setting the process-wide one,
so an application embedding the gateway (or a test) keeps its own global untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.tracing.seam import Attributes, AttributeValue, SpanKind

_PROPAGATOR = TraceContextTextMapPropagator()
_KINDS = {
    "internal": trace.SpanKind.INTERNAL,
    "client": trace.SpanKind.CLIENT,
    "server": trace.SpanKind.SERVER,
}


def _kept(attributes: Attributes | None) -> dict[str, AttributeValue]:
    return {k: v for k, v in (attributes or {}).items() if v is not None}


class OtelSpan:
    """A ``Span`` backed by an OpenTelemetry span."""

    def __init__(self, tracer: trace.Tracer, span: trace.Span) -> None:
        self._tracer = tracer
        self._span = span
        self._ended = False

    @property
    def recording(self) -> bool:
        """Whether the sampler kept this span."""
        return self._span.is_recording()

    @property
    def trace_id(self) -> str:
        """The W3C trace id."""
        return format(self._span.get_span_context().trace_id, "032x")

    def child(
        self, name: str, attributes: Attributes | None = None, kind: SpanKind = "internal"
    ) -> OtelSpan:
        """A span whose parent is this one."""
        context = trace.set_span_in_context(self._span)
        span = self._tracer.start_span(
            name, context=context, kind=_KINDS[kind], attributes=_kept(attributes)
        )
        return OtelSpan(self._tracer, span)

    def set(self, attributes: Attributes) -> None:
        """Set the attributes that have a value."""
        self._span.set_attributes(_kept(attributes))

    def fail(self, error_type: str, message: str | None = None) -> None:
        """Status error, with the error's type as the conventions ask."""
        self._span.set_attribute("error.type", error_type)
        self._span.set_status(trace.Status(trace.StatusCode.ERROR, message))

    def end(self) -> None:
        """End once (the SDK warns on a second end)."""
        if not self._ended:
            self._ended = True
            self._span.end()

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """W3C trace context naming this span as the parent."""
        _PROPAGATOR.inject(headers, context=trace.set_span_in_context(self._span))


class OtelTracer:
    """A ``Tracer`` over its own provider."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("aligngate")

    @property
    def enabled(self) -> bool:
        """Always: this is the real one."""
        return True

    def request_span(
        self, name: str, attributes: Attributes, incoming: Mapping[str, str]
    ) -> OtelSpan:
        """A server span, a child of the client's span when it sent a valid traceparent."""
        parent = _PROPAGATOR.extract(dict(incoming))
        span = self._tracer.start_span(
            name, context=parent, kind=trace.SpanKind.SERVER, attributes=_kept(attributes)
        )
        return OtelSpan(self._tracer, span)

    def shutdown(self) -> None:
        """Flush and stop every processor."""
        self._provider.shutdown()


def otel_tracer(provider: TracerProvider, processors: Sequence[SpanProcessor] = ()) -> OtelTracer:
    """A tracer over ``provider`` with ``processors`` added (e.g. a test's in-memory one)."""
    for processor in processors:
        provider.add_span_processor(processor)
    return OtelTracer(provider)
