"""The tracer a gateway runs with: the no-op one unless tracing is configured.

On when the config says ``tracing.enabled: true``, or, left unset, when the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set;
``OTEL_SDK_DISABLED=true`` turns it off either way. OpenTelemetry is imported only here,
only then: a gateway without tracing never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config import TracingConfig
from gateway.tracing.seam import NO_TRACER, Tracer

DEFAULT_SERVICE_NAME = "aligngate"
_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def tracing_enabled(config: TracingConfig, environ: Mapping[str, str]) -> bool:
    """Whether this config and environment ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if config.enabled is not None:
        return config.enabled
    return any(environ.get(name) for name in _ENDPOINT_VARS)


def traces_endpoint(base: str) -> str:
    """The OTLP/HTTP traces URL of a collector: ``/v1/traces`` added unless given."""
    base = base.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def build_tracer(config: TracingConfig, environ: Mapping[str, str]) -> Tracer:
    """The no-op tracer, or one exporting over OTLP/HTTP in batches."""
    if not tracing_enabled(config, environ):
        return NO_TRACER
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    from gateway.tracing.otel import otel_tracer

    service = config.service_name or environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    # A ratio from the config wins; else the SDK reads OTEL_TRACES_SAMPLER(_ARG) itself.
    sampler = (
        ParentBased(TraceIdRatioBased(config.sample_ratio))
        if config.sample_ratio is not None
        else None
    )
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}), sampler=sampler)
    # No endpoint in the config: the exporter reads the OTEL_* variables (else localhost).
    endpoint = traces_endpoint(config.otlp_endpoint) if config.otlp_endpoint else None
    return otel_tracer(provider, [BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))])
