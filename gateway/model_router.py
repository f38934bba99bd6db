"""Which backend serves a requested model: routes, their fallbacks, each backend built once."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.backends.base import Backend
from gateway.backends.engine_backend import EngineBackend
from gateway.backends.resilience import CircuitBreaker, FallbackBackend, ResilientBackend
from gateway.backends.traced import TracedBackend
from gateway.config import (
    EngineBackendConfig,
    GatewayConfig,
    LitellmBackendConfig,
    ModelRoute,
    OpenAIBackendConfig,
)
from gateway.engines.base import Engine
from gateway.errors import NotFound
from gateway.tracing.seam import NO_TRACER, Tracer

# The catch-all backend's own label (its breaker's); requests for models it serves are
# labelled by the model's name while there is room, then share one label.
DEFAULT_MODEL_LABEL = "default"
OTHER_MODEL_LABEL = "other"
# The room: any client may name any model, so only so many names become label values.
# First come, first kept; a typo takes a place, which bounds the series all the same.
MAX_LEARNED_MODEL_LABELS = 16
_MODELS_NAMED = 20  # an unknown model's 404 names at most this many that exist

_CATCH_ALL = "*default*"  # the catch-all backend's key: no model may be named so

RemoteBuilder = Callable[[OpenAIBackendConfig | LitellmBackendConfig], Backend]


class ModelRouter:
    """Maps a model name to its route and backend; backends are created on first use, once."""

    def __init__(
        self,
        config: GatewayConfig,
        engines: Mapping[str, Engine],
        build_remote: RemoteBuilder,
        tracer: Tracer = NO_TRACER,
        on_fallback: Callable[[str], None] = lambda model: None,
    ) -> None:
        self._config = config
        self._engines = engines
        self._build_remote = build_remote
        self._traced = tracer.enabled
        self._on_fallback = on_fallback
        self._backends: dict[str, Backend] = {}
        self._learned: set[str] = set()

    def route(self, model: str) -> ModelRoute:
        """The route serving a requested model; 404 if the gateway has none."""
        route = self._config.route_for(model)
        if route is None:
            names = [r.name for r in self._config.models]
            shown = ", ".join(names[:_MODELS_NAMED]) + (
                ", ..." if len(names) > _MODELS_NAMED else ""
            )
            raise NotFound(
                f"The model '{model}' does not exist; this gateway serves: {shown or 'none'}",
                param="model",
                code="model_not_found",
            )
        return route

    def model_label(self, route: ModelRoute) -> str:
        """The bounded metric label for a route: its name if configured or learned, else 'other'."""
        if self._configured(route) or route.name in self._learned:
            return route.name
        if len(self._learned) < MAX_LEARNED_MODEL_LABELS and route.name != OTHER_MODEL_LABEL:
            self._learned.add(route.name)
            return route.name
        return OTHER_MODEL_LABEL

    def breaker_states(self) -> dict[str, str]:
        """Each built backend's circuit state, by model label (the catch-all's is 'default')."""
        return {
            DEFAULT_MODEL_LABEL if key == _CATCH_ALL else key: backend.breaker.state
            for key, backend in self._backends.items()
            if isinstance(backend, ResilientBackend)
        }

    def pipeline(self, route: ModelRoute) -> list[str]:
        """The stage names the route runs, before tenant and arm shape them."""
        return self._config.pipeline_for(route)

    def backend(self, route: ModelRoute) -> Backend:
        """The backend of a route, with its fallbacks tried in order when it fails."""
        if not route.fallbacks:
            return self._single(route)
        key = f"{route.name}+fallbacks"
        if key not in self._backends:
            chain = [self._single(route)] + [self._single(self.route(f)) for f in route.fallbacks]
            label = route.name
            self._backends[key] = FallbackBackend(chain, lambda: self._on_fallback(label))
        return self._backends[key]

    def _single(self, route: ModelRoute) -> Backend:
        """The route's own backend, created once, with retries and a circuit breaker."""
        key = route.name if self._configured(route) else _CATCH_ALL
        if key not in self._backends:
            self._backends[key] = self._build(route)
        return self._backends[key]

    def _configured(self, route: ModelRoute) -> bool:
        return any(r.name == route.name for r in self._config.models)

    def _build(self, route: ModelRoute) -> Backend:
        config = route.backend
        if isinstance(config, EngineBackendConfig):
            engine = EngineBackend(
                engine=self._engines[config.engine],
                adapter=config.adapter,
                default_max_tokens=config.default_max_tokens,
            )
            return self._with_span(engine, route, config.adapter or config.engine)
        # Traced inside the retries: each attempt is its own span.
        remote = self._with_span(self._build_remote(config), route, config.model)
        return ResilientBackend(remote, config.retry, CircuitBreaker(config.breaker))

    def _with_span(self, backend: Backend, route: ModelRoute, model: str) -> Backend:
        """The backend, traced per call when tracing is on; untouched (no cost) when off."""
        if not self._traced:
            return backend
        config = route.backend
        api_base = None if isinstance(config, EngineBackendConfig) else config.api_base
        return TracedBackend(
            backend, route=self.model_label(route), kind=config.kind, model=model, api_base=api_base
        )

    async def aclose(self) -> None:
        """Close every backend created so far."""
        for backend in self._backends.values():
            await backend.aclose()
