"""Build an engine from its typed configuration."""

from __future__ import annotations

from gateway.engines.base import Engine
from gateway.engines.config import EngineConfig, LlamaCppEngineConfig, RemoteEngineConfig
from gateway.engines.remote import RemoteEngine


def build_engine(config: EngineConfig) -> Engine:
    """The engine a configuration describes; in-process engines load on ``start()``."""
    if isinstance(config, RemoteEngineConfig):
        return RemoteEngine.from_config(config)
    if isinstance(config, LlamaCppEngineConfig):
        from gateway.engines.llamacpp_engine import LlamaCppEngine

        return LlamaCppEngine(config)
    # Imported here so a gateway with only remote engines never imports the
    # transformers engine (which pulls in torch when it loads).
    from gateway.engines.transformers_engine import TransformersEngine

    return TransformersEngine(config)
