"""Prometheus metrics on the app's own registry; every label value comes from a bounded set."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The gateway's series: requests, errors, latencies, stage outcomes, tokens."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        request_labels = ["route", "model", "tenant", "arm"]
        self.requests = Counter(
            "aligngate_requests",
            "Requests served.",
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
        self.backend_first_token = Histogram(
            "aligngate_backend_first_token_seconds",
            "Time from calling the backend to its first token (whole answer when not streamed).",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rejected = Counter(
            "aligngate_rejected_requests",
            "Requests refused at the door: overload, body size or time, failed authentication.",
            ["reason"],
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

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
