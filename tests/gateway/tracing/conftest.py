"""An in-memory span exporter behind a real tracer, for gateways started by a test."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.tracing.otel import OtelTracer, otel_tracer


class Spans:
    """The spans a gateway exported, waited for: a stream's request span ends after its bytes."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer: OtelTracer = otel_tracer(
            TracerProvider(), [SimpleSpanProcessor(self.exporter)]
        )

    def finished(self) -> list[ReadableSpan]:
        """Every span ended so far."""
        return list(self.exporter.get_finished_spans())

    def request(self, name: str, timeout_s: float = 5.0) -> ReadableSpan:
        """The one request span called ``name``, once it has ended."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [s for s in self.finished() if s.name == name and _is_request(s)]
            if found:
                assert len(found) == 1, [s.name for s in self.finished()]
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no request span {name!r}: {[s.name for s in self.finished()]}")

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        """The spans whose parent is ``parent``, in start order."""
        assert parent.context is not None
        kids = [
            s
            for s in self.finished()
            if s.parent is not None and s.parent.span_id == parent.context.span_id
        ]
        return sorted(kids, key=lambda s: s.start_time or 0)


def _is_request(span: ReadableSpan) -> bool:
    """A request span is a root, or the child of a client's remote span."""
    return span.parent is None or span.parent.is_remote


@pytest.fixture
def spans() -> Iterator[Spans]:
    """A tracer recording into memory; shut down after the test."""
    recorded = Spans()
    yield recorded
    recorded.tracer.shutdown()
