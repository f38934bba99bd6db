"""From settings to a runnable app: pick the config, build engines and services."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import structlog
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import GatewayConfig, load_config, upstream_config
from gateway.engines.registry import build_engine
from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.startup_checks import StartupRefused
from gateway.tenants.factory import build_rate_limiter, build_store

log = structlog.get_logger(__name__)


def embedded_config_path() -> Path:
    """The shipped embedded-default config file."""
    return Path(str(files("gateway.defaults").joinpath("embedded.yaml")))


def resolve_config(settings: GatewaySettings) -> GatewayConfig:
    """Quick mode, a config file, or the embedded default, in that order."""
    if settings.upstream and settings.config:
        raise StartupRefused("give either --upstream or --config, not both")
    if settings.upstream:
        return upstream_config(settings.upstream, settings.upstream_api_key_env)
    return load_config(settings.config or embedded_config_path())


def build_gateway(settings: GatewaySettings) -> FastAPI:
    """The app for these settings; engines load in the background after start-up."""
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
