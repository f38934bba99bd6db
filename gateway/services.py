"""Everything a running gateway holds, built once at start-up from settings and config."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

import structlog

from gateway.auth import KeyAuthenticator, Tenant
from gateway.backends.base import Backend
from gateway.backends.engine_backend import EngineBackend
from gateway.backends.openai_compat import OpenAICompatibleBackend
from gateway.chat_service import ChatService, ChatTarget
from gateway.config import (
    BackendConfig,
    EngineBackendConfig,
    GatewayConfig,
    LitellmBackendConfig,
    ModelRoute,
)
from gateway.engines.base import Engine
from gateway.errors import NotFound
from gateway.pipeline.pipeline import Pipeline, PlannedStage, StagePolicy
from gateway.pipeline.registry import StageBuilder, default_stage_builders
from gateway.pipeline.trace import RequestTrace
from gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)


class Services:
    """The gateway's engines, backends, pipelines and authenticator."""

    def __init__(
        self,
        settings: GatewaySettings,
        config: GatewayConfig,
        engines: Mapping[str, Engine],
        stage_builders: Mapping[str, StageBuilder] | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.engines = dict(engines)
        self.auth = KeyAuthenticator(config.tenants)
        self.chat = ChatService()
        builders = stage_builders if stage_builders is not None else _builders_for(config)
        self._stages = {
            name: PlannedStage(
                stage=builders[stage.kind](name, stage, self.engines[stage.engine]),
                policy=StagePolicy(timeout_s=stage.timeout_s, on_failure=stage.on_failure),
            )
            for name, stage in config.stages.items()
        }
        self._backends: dict[str, Backend] = {}
        self._targets: dict[str, ChatTarget] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def target(self, model: str) -> ChatTarget:
        """The backend and pipeline for a requested model; 404 if the gateway has none."""
        if model in self._targets:
            return self._targets[model]
        route = self.config.route_for(model)
        if route is None:
            raise NotFound(
                f"The model '{model}' does not exist", param="model", code="model_not_found"
            )
        target = ChatTarget(backend=self._backend(route), pipeline=self._pipeline(route))
        if any(r.name == model for r in self.config.models):
            self._targets[model] = target  # only configured names: unknown ones must not pile up
        return target

    def backend(self, model: str) -> Backend:
        """The backend for a requested model (for routes without stages)."""
        return self.target(model).backend

    def _pipeline(self, route: ModelRoute) -> Pipeline:
        return Pipeline([self._stages[name] for name in self.config.pipeline_for(route)])

    def _backend(self, route: ModelRoute) -> Backend:
        key = route.name if route in self.config.models else "*default*"
        if key not in self._backends:
            self._backends[key] = self._build_backend(route.backend)
        return self._backends[key]

    def _build_backend(self, config: BackendConfig) -> Backend:
        if isinstance(config, EngineBackendConfig):
            return EngineBackend(
                engine=self.engines[config.engine],
                adapter=config.adapter,
                default_max_tokens=config.default_max_tokens,
            )
        return build_remote_backend(config)

    def record(
        self, tenant: Tenant, model: str, trace: RequestTrace, status: int, seconds: float
    ) -> None:
        """Log one event per chat request: who, which arm, what each stage did, how long."""
        log.info(
            "chat_request",
            request_id=trace.request_id,
            tenant=tenant.name,
            model=model,
            arm=trace.arm,
            status=status,
            duration_ms=round(seconds * 1000, 2),
            stages=[
                {
                    "stage": r.stage,
                    "outcome": r.outcome.value,
                    "reason": r.reason,
                    "duration_ms": round(r.duration_ms, 2),
                }
                for r in trace.records
            ],
        )

    def start(self) -> None:
        """Load the engines' models in the background; /readyz turns ready when done."""
        for name, engine in self.engines.items():
            starter = getattr(engine, "start", None)
            if starter is not None:
                task = asyncio.create_task(starter(), name=f"load-engine-{name}")
                task.add_done_callback(_log_load_result)
                self._tasks.add(task)

    async def ready(self) -> dict[str, bool]:
        """Readiness of every engine, by name."""
        return {name: await engine.ready() for name, engine in self.engines.items()}

    async def aclose(self) -> None:
        """Close backends and engines."""
        for task in self._tasks:
            task.cancel()
        for backend in self._backends.values():
            await backend.aclose()
        for engine in self.engines.values():
            await engine.aclose()


def build_remote_backend(config: LitellmBackendConfig) -> Backend:
    """The direct OpenAI-compatible path where it applies, litellm otherwise."""
    api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
    if config.api_key_env and api_key is None:
        log.warning("backend_key_missing", env=config.api_key_env, model=config.model)
    if config.uses_direct_path():
        assert config.api_base is not None
        provider, _, name = config.model.partition("/")
        return OpenAICompatibleBackend(
            api_base=config.api_base,
            model=name if provider in {"openai", "hosted_vllm"} and name else config.model,
            api_key=api_key,
            forward_client_key=config.forward_client_key,
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
        )
    from gateway.backends.litellm_backend import LitellmBackend

    return LitellmBackend(
        model=config.model, api_base=config.api_base, api_key=api_key, timeout_s=config.timeout_s
    )


def _log_load_result(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("engine_load_failed", task=task.get_name(), error=repr(task.exception()))
    else:
        log.info("engine_loaded", task=task.get_name())


def _builders_for(config: GatewayConfig) -> Mapping[str, StageBuilder]:
    # The stage packages import only when a config uses stages, keeping quick mode light.
    return default_stage_builders() if config.stages else {}
