"""From settings to a runnable app: pick the config, check it, build engines and services."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import structlog
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import GatewayConfig, load_config, upstream_config
from gateway.config_file import ConfigError
from gateway.engines.registry import build_engine
from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.startup_checks import (
    StartupRefused,
    check_engine_files,
    check_listeners,
    refuse_open_mode,
)
from gateway.tenants.factory import build_rate_limiter, build_store

log = structlog.get_logger(__name__)


def embedded_config_path() -> Path:
    """The shipped embedded-default config file."""
    return Path(str(files("gateway.defaults").joinpath("embedded.yaml")))


def resolve_config(settings: GatewaySettings) -> GatewayConfig:
    """Quick mode, a config file, or the embedded default, in that order; ``--stages``
    then chooses the pipeline (in quick mode, from the embedded default's stages)."""
    if settings.upstream and settings.config:
        raise StartupRefused("give either --upstream or --config, not both")
    names = stage_names(settings.stages) if settings.stages is not None else None
    if settings.upstream and not names:
        return upstream_config(settings.upstream, settings.upstream_api_key_env)
    path = settings.config or embedded_config_path()
    config = load_config(path)
    try:
        check_engine_files(config)
    except StartupRefused as exc:
        raise ConfigError(path, str(exc)) from None
    if names is not None:
        config = with_pipeline(config, names)
    if settings.upstream:
        config = in_front_of(
            config, upstream_config(settings.upstream, settings.upstream_api_key_env)
        )
    return config


def stage_names(value: str) -> list[str]:
    """``--stages``: comma-separated names; 'none' (or nothing) for no stages."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    return [] if names == ["none"] else names


def with_pipeline(config: GatewayConfig, names: list[str]) -> GatewayConfig:
    """``config`` running ``names`` for every model, or a refusal naming the stages it has."""
    unknown = [name for name in names if name not in config.stages]
    if unknown:
        known = ", ".join(sorted(config.stages)) or "none"
        raise StartupRefused(f"--stages: no stage {unknown[0]!r}; configured: {known}")
    routes = [route.model_copy(update={"pipeline": None}) for route in config.models]
    return config.model_copy(update={"pipeline": names, "models": routes})


def in_front_of(stages: GatewayConfig, quick: GatewayConfig) -> GatewayConfig:
    """The stages, engines and gate of ``stages`` around quick mode's upstream."""
    # Quick mode forwards text completions and responses unchanged because it runs no
    # stages; with stages they go through them, so only the default routes pass.
    passthrough = quick.passthrough if not stages.pipeline else stages.passthrough
    return stages.model_copy(
        update={
            "models": [],
            "default_backend": quick.default_backend,
            "passthrough": passthrough,
        }
    )


def build_gateway(settings: GatewaySettings) -> FastAPI:
    """The app for these settings; engines load in the background after start-up."""
    check_listeners(settings)
    config = resolve_config(settings)
    engines = {name: build_engine(engine) for name, engine in config.engines.items()}
    services = Services(
        settings,
        config,
        engines,
        store=build_store(settings),
        limiter=build_rate_limiter(settings),
    )
    return create_app(services)


async def check_before_serving(services: Services) -> None:
    """The refusals that need the tenant store, made before uvicorn takes over.

    Raised from the app's lifespan instead, a refusal reaches the operator as
    uvicorn's traceback and exit status 3.
    """
    has_tenants = bool(services.config.tenants) or await services.store.has_tenants()
    refuse_open_mode(services.settings, has_tenants)
