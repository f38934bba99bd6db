"""Everything a running gateway holds, built once at start-up from settings and config."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import structlog

from gateway.backends.factory import build_remote_backend
from gateway.config import GatewayConfig
from gateway.engines.base import Engine
from gateway.experiments import Assigner
from gateway.handler import GenerationHandler
from gateway.integrations.guardrail_api import GuardrailApi
from gateway.integrations.stage_guard import StageGuard
from gateway.metrics import Metrics
from gateway.model_router import ModelRouter
from gateway.observability import Observer
from gateway.pipeline.registry import StageBuilder
from gateway.quota import Quota
from gateway.readiness import HealthCheck, Readiness
from gateway.settings import GatewaySettings
from gateway.stage_factory import build_stage_planner
from gateway.startup_checks import check_open_mode
from gateway.tenants.auth import Authenticator
from gateway.tenants.memory_store import MemoryStore
from gateway.tenants.ratelimit import MemoryRateLimiter, RateLimiter
from gateway.tenants.seed import seed_tenants
from gateway.tenants.store import TenantStore
from gateway.tracing.build import build_tracer
from gateway.tracing.seam import Tracer

if TYPE_CHECKING:
    from gateway.gate.risk_gate import RiskGate

log = structlog.get_logger(__name__)


class Services:
    """The container: engines, stages, tenant store, observers and the generation handler."""

    def __init__(
        self,
        settings: GatewaySettings,
        config: GatewayConfig,
        engines: Mapping[str, Engine],
        store: TenantStore | None = None,
        limiter: RateLimiter | None = None,
        stage_builders: Mapping[str, StageBuilder] | None = None,
        gate: RiskGate | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.settings = settings
        self.tracer = tracer if tracer is not None else build_tracer(config.tracing, os.environ)
        self.config = config
        self.engines = dict(engines)
        self.store = store if store is not None else MemoryStore()
        self.auth = Authenticator(self.store)
        self.assigner = Assigner()
        self.metrics = Metrics()
        self.quota = Quota(
            limiter if limiter is not None else MemoryRateLimiter(), self.metrics.report_headroom
        )
        self.observer = Observer(
            self.metrics, self.store, log_content_max_chars=settings.log_content_max_chars
        )
        self.planner = build_stage_planner(config, self.engines, stage_builders, gate)
        self.router = ModelRouter(
            config,
            self.engines,
            build_remote_backend,
            tracer=self.tracer,
            on_fallback=self.metrics.count_fallback,
        )
        self.metrics.watch_breakers(self.router.breaker_states)
        # LiteLLM's Generic Guardrail API: the same stages, around someone else's model call.
        self.guardrails = GuardrailApi(StageGuard(config, self.planner), self.quota)
        self.handler = GenerationHandler(
            router=self.router,
            planner=self.planner,
            quota=self.quota,
            observer=self.observer,
            assigner=self.assigner,
            max_buffered_bytes=settings.max_buffered_answer_bytes,
            tracer=self.tracer,
        )
        models = bool(config.models) or config.default_backend is not None
        self.health = HealthCheck(
            self.engines, config.engines, self.store, self.metrics.engine_up, models
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.gate_loaded = False

    async def start(self) -> None:
        """Seed config tenants, then load the gate and the engines' models in the background."""
        await seed_tenants(self.store, self.config.tenants)
        check_open_mode(self.settings, await self.auth.start(self.settings.require_keys))
        await self.assigner.load(self.store, self.settings.assignment_secret)
        self._tasks.add(asyncio.create_task(self._load(), name="load-models"))
        probes = self.health.watch(self.settings.engine_probe_interval_s)
        self._tasks.add(asyncio.create_task(probes, name="probe-engines"))

    async def _load(self) -> None:
        """Load the gate, then each engine, one at a time.

        Not concurrently: the gate's first-start ONNX export and a transformers engine
        both import transformers, whose lazy module is not thread-safe to import from two
        threads at once (the gate failed on every fresh start while both loaded together).
        """
        if self.planner.gate is not None:
            self.gate_loaded = await _load_one("risk-gate", self.planner.gate.batcher.start)
        for name, engine in self.engines.items():
            starter = getattr(engine, "start", None)
            if starter is not None:
                await _load_one(f"engine-{name}", starter)

    async def ready(self) -> Readiness:
        """Whether this pod can serve: in-process engines and gate, store, a model; not remote."""
        readiness = await self.health.readiness()
        if self.planner.gate is None:
            return readiness
        ready = readiness.ready and self.gate_loaded
        return readiness.model_copy(
            update={
                "engines": {**readiness.engines, "risk-gate": self.gate_loaded},
                "status": "ready" if ready else "not ready",
            }
        )

    async def aclose(self) -> None:
        """Finish record writes, then close backends, engines and the store."""
        for task in self._tasks:
            task.cancel()
        await self.observer.drain()
        await self.router.aclose()
        for engine in self.engines.values():
            await engine.aclose()
        await self.store.aclose()
        await self.quota.limiter.aclose()
        # Last, so the spans of requests that ended while shutting down are exported too.
        await asyncio.to_thread(self.tracer.shutdown)


async def _load_one(name: str, load: Callable[[], Awaitable[None]]) -> bool:
    """Run one load, logging how it ended; a failure must not stop the others."""
    try:
        await load()
    except Exception as exc:  # any failure is logged; readiness then says not ready
        log.error("engine_load_failed", task=f"load-{name}", error=repr(exc))
        return False
    log.info("engine_loaded", task=f"load-{name}")
    return True
