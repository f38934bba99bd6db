"""Readiness is "this pod can serve": its in-process engines loaded and its store answering.

A remote engine (a vLLM server) is shared by every gateway pod. Were readiness tied
to it, one vLLM outage would take every pod out of the Service at once, and then
nobody is served: not the tenants without stages, not the fail-open ones. So
remote engines are probed in the background and reported (the
``aligngate_engine_up`` gauge and ``GET /healthz/details``), and each request that
needs one fails as its tenant's policy says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Literal

import structlog
from prometheus_client import Gauge
from pydantic import BaseModel

from gateway.engines.base import Engine
from gateway.engines.config import EngineConfig, RemoteEngineConfig
from gateway.tenants.store import TenantStore

log = structlog.get_logger(__name__)

# A probe that takes longer than this counts as down: a hung store or engine must
# not hang the kubelet's probe (its own timeout is 3 s in the Helm chart).
PROBE_TIMEOUT_S = 2.0

EngineKind = Literal["in-process", "remote"]


class Readiness(BaseModel):
    """What ``/readyz`` answers: 200 when ``ready``."""

    status: Literal["ready", "not ready"]
    engines: dict[str, bool]
    store: bool
    models: bool

    @property
    def ready(self) -> bool:
        """Whether this pod should take traffic."""
        return self.status == "ready"


class EngineHealth(BaseModel):
    """One engine in the detailed report."""

    kind: EngineKind
    ready: bool


class HealthDetails(BaseModel):
    """What ``/healthz/details`` answers: readiness plus every remote engine."""

    status: Literal["ok", "degraded", "not ready"]
    ready: bool
    store: bool
    models: bool
    engines: dict[str, EngineHealth]


class HealthCheck:
    """Probes engines and the store, and keeps the engine gauge current."""

    def __init__(
        self,
        engines: Mapping[str, Engine],
        configs: Mapping[str, EngineConfig],
        store: TenantStore,
        gauge: Gauge,
        models: bool,
    ) -> None:
        self._engines = engines
        # An engine the config does not describe is held to the in-process standard.
        self._kinds: dict[str, EngineKind] = {
            name: "remote" if isinstance(configs.get(name), RemoteEngineConfig) else "in-process"
            for name in engines
        }
        self._store = store
        self._gauge = gauge
        self._models = models

    async def readiness(self) -> Readiness:
        """In-process engines loaded, the store answering, some model configured."""
        local = [name for name, kind in self._kinds.items() if kind == "in-process"]
        engines = await self._probe_engines(local)
        store = await self._probe_store()
        ready = self._models and store and all(engines.values())
        return Readiness(
            status="ready" if ready else "not ready",
            engines=engines,
            store=store,
            models=self._models,
        )

    async def details(self) -> HealthDetails:
        """Readiness, and every engine's health, remote ones included."""
        readiness = await self.readiness()
        remote = await self._probe_engines(
            [name for name, kind in self._kinds.items() if kind == "remote"]
        )
        up = {**readiness.engines, **remote}
        status: Literal["ok", "degraded", "not ready"] = "not ready"
        if readiness.ready:
            status = "ok" if all(remote.values()) else "degraded"
        return HealthDetails(
            status=status,
            ready=readiness.ready,
            store=readiness.store,
            models=readiness.models,
            engines={
                name: EngineHealth(kind=self._kinds[name], ready=up[name]) for name in self._kinds
            },
        )

    async def watch(self, interval_s: float) -> None:
        """Probe every engine every ``interval_s`` so the gauge is current between scrapes."""
        while True:
            await self._probe_engines(list(self._engines))
            await asyncio.sleep(interval_s)

    async def _probe_engines(self, names: list[str]) -> dict[str, bool]:
        results = await asyncio.gather(*(_engine_up(self._engines[name]) for name in names))
        for name, up in zip(names, results, strict=True):
            self._gauge.labels(engine=name, kind=self._kinds[name]).set(1 if up else 0)
        return dict(zip(names, results, strict=True))

    async def _probe_store(self) -> bool:
        try:
            await asyncio.wait_for(self._store.has_tenants(), PROBE_TIMEOUT_S)
        except Exception as error:  # any failure to answer in time is the answer "down"
            log.warning("store_unreachable", error=repr(error))
            return False
        return True


async def _engine_up(engine: Engine) -> bool:
    """Whether the engine says it is ready, in time; a failing probe is a "no", not an error."""
    try:
        return await asyncio.wait_for(engine.ready(), PROBE_TIMEOUT_S)
    except Exception:  # a probe reports; whatever broke is the answer "down"
        return False
