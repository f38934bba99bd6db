"""Prometheus metrics on the app's own registry; every label value comes from a bounded set."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# What the gateway adds to a request is mostly milliseconds; stages make it seconds.
_OVERHEAD_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# The breaker gauge's values: numeric, so a panel can plot and alert on "> 0".
BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}

# Every counter would get a ``*_created`` twin series per label set, doubling the series
# count for a value nobody graphs; the switch is process-wide in prometheus_client.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]


class BreakerStates(Collector):
    """Each backend's circuit state, read at scrape time (it turns half-open by the clock)."""

    def __init__(self, states: Callable[[], Mapping[str, str]]) -> None:
        self._states = states

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One sample per backend built so far."""
        family = GaugeMetricFamily(
            "aligngate_circuit_breaker_state",
            "Circuit breaker of a model's backend: 0 closed, 1 half-open, 2 open.",
            labels=["model"],
        )
        for model, state in sorted(self._states().items()):
            family.add_metric([model], BREAKER_STATES[state])
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The family without samples, so registering does not read the states."""
        yield GaugeMetricFamily(
            "aligngate_circuit_breaker_state", "Circuit breaker state.", labels=["model"]
        )


class Metrics:
    """The gateway's series: requests, errors, latencies, stage outcomes, tokens."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # The process's CPU, memory and file descriptors, and the interpreter's GC, on this
        # registry (the global one is never served: two apps in a process would share it).
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._http_series()
        self._request_series()
        self._backend_series()
        self._stage_series()

    def _http_series(self) -> None:
        # Every HTTP request, whoever answered it: a route, validation, auth, a middleware.
        self.http_requests = Counter(
            "aligngate_http_requests",
            "HTTP requests answered, by route name, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "aligngate_http_request_duration_seconds",
            "HTTP request latency, to the end of the answer.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "aligngate_requests_in_flight",
            "HTTP requests being served now.",
            ["route"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "aligngate_rejected_requests",
            "Requests refused at the door: overload, body size or time, failed authentication.",
            ["reason"],
            registry=self.registry,
        )
        self.rate_limit_remaining = Gauge(
            "aligngate_rate_limit_remaining",
            "A tenant's requests or tokens left in its sliding minute, at its last request.",
            ["tenant", "kind"],
            registry=self.registry,
        )

    def _request_series(self) -> None:
        request_labels = ["route", "model", "tenant", "arm"]
        self.requests = Counter(
            "aligngate_requests",
            "Generation and passthrough requests served.",
            [*request_labels, "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "aligngate_request_errors",
            "Requests that ended in an error.",
            [*request_labels, "type"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aligngate_request_duration_seconds",
            "Whole-request latency.",
            request_labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.overhead = Histogram(
            "aligngate_gateway_overhead_seconds",
            "Request latency minus the backend's time: stages, gate and the gateway itself.",
            ["route", "model"],
            buckets=_OVERHEAD_BUCKETS,
            registry=self.registry,
        )
        token_labels = ["model", "tenant"]
        self.input_tokens = Counter(
            "aligngate_tokens_input",
            "Prompt tokens the backend reported.",
            token_labels,
            registry=self.registry,
        )
        self.output_tokens = Counter(
            "aligngate_tokens_output",
            "Completion tokens the backend reported.",
            token_labels,
            registry=self.registry,
        )
        self.total_tokens = Counter(
            "aligngate_tokens",
            "Total tokens the backend reported.",
            token_labels,
            registry=self.registry,
        )

    def _backend_series(self) -> None:
        self.backend_ttft = Histogram(
            "aligngate_backend_time_to_first_token_seconds",
            "Streams only: from calling the backend to its first chunk.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.backend_duration = Histogram(
            "aligngate_backend_duration_seconds",
            "From calling the backend to its whole answer (the last chunk of a stream).",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "aligngate_backend_fallbacks",
            "Calls a model's backend failed that went on to its next fallback.",
            ["model"],
            registry=self.registry,
        )

    def _stage_series(self) -> None:
        stage_labels = ["stage", "model", "tenant", "arm"]
        self.stage_latency = Histogram(
            "aligngate_stage_duration_seconds",
            "Time one stage took.",
            stage_labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_outcomes = Counter(
            "aligngate_stage_outcomes",
            "What stages did: rewritten, corrected, skipped...",
            [*stage_labels, "outcome"],
            registry=self.registry,
        )
        self.stage_tokens = Counter(
            "aligngate_stage_tokens",
            "Tokens into and out of the stages' small models.",
            ["stage", "direction"],
            registry=self.registry,
        )
        self.gate_scores = Histogram(
            "aligngate_gate_score",
            "Risk gate scores (probability the item is risky) per stage.",
            ["stage", "tenant"],
            buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
            registry=self.registry,
        )
        self.engine_up = Gauge(
            "aligngate_engine_up",
            "Whether a stage engine answers its readiness probe (1) or not (0).",
            ["engine", "kind"],
            registry=self.registry,
        )

    def report_headroom(self, tenant: str, kind: str, left: int) -> None:
        """Note what a tenant has left of its per-minute limit (never below zero)."""
        self.rate_limit_remaining.labels(tenant, kind).set(max(0, left))

    def count_fallback(self, model: str) -> None:
        """A model's backend failed and its next fallback is being tried."""
        self.fallbacks.labels(model).inc()

    def watch_breakers(self, states: Callable[[], Mapping[str, str]]) -> None:
        """Expose the circuit states ``states`` reports (model label → state) at each scrape."""
        self.registry.register(BreakerStates(states))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
