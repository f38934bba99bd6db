"""From settings to a runnable app: pick the config, build engines and services."""

from __future__ import annotations

import ipaddress
from importlib.resources import files
from pathlib import Path

import structlog
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import GatewayConfig, load_config, upstream_config
from gateway.engines.registry import build_engine
from gateway.services import Services
from gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)


class StartupRefused(Exception):
    """The settings are unsafe or inconsistent; the message says what to change."""


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


def check_exposure(settings: GatewaySettings, config: GatewayConfig) -> None:
    """Open mode (no tenants, any key) is for loopback unless explicitly allowed."""
    if config.tenants:
        return
    if not _is_loopback(settings.host) and not settings.allow_open_public:
        raise StartupRefused(
            f"no tenants are configured, so the gateway would accept any key on {settings.host}; "
            "configure tenants, listen on 127.0.0.1, or pass --allow-open-public"
        )
    log.warning(
        "open_mode",
        message="no tenants configured: any API key is accepted",
        host=settings.host,
    )


def build_gateway(settings: GatewaySettings) -> FastAPI:
    """The app for these settings; engines load in the background after start-up."""
    config = resolve_config(settings)
    check_exposure(settings, config)
    engines = {name: build_engine(engine) for name, engine in config.engines.items()}
    return create_app(Services(settings, config, engines))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
