"""Refusing unsafe start-ups: open mode on a public interface."""

from __future__ import annotations

import ipaddress

import structlog

from gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)


class StartupRefused(Exception):
    """The settings are unsafe or inconsistent; the message says what to change."""


def check_open_mode(settings: GatewaySettings, has_tenants: bool) -> None:
    """Open mode (no tenants, any key) serves loopback only unless explicitly allowed.

    LiteLLM's proxy refuses to start without a master key for the same reason.
    """
    if has_tenants:
        return
    if not is_loopback(settings.host) and not settings.allow_open_public:
        raise StartupRefused(
            f"no tenants exist, so the gateway would accept any key on {settings.host}; "
            "add tenants, listen on 127.0.0.1, or pass --allow-open-public"
        )
    log.warning(
        "open_mode", message="no tenants exist: any API key is accepted", host=settings.host
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
