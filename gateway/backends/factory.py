"""Building the backend a remote backend config names: direct HTTP or litellm."""

from __future__ import annotations

import os

import structlog

from gateway.backends.base import Backend
from gateway.backends.openai_compat import OpenAICompatibleBackend
from gateway.config import LitellmBackendConfig, OpenAIBackendConfig

log = structlog.get_logger(__name__)


def build_remote_backend(config: OpenAIBackendConfig | LitellmBackendConfig) -> Backend:
    """``kind: openai`` calls the server directly; ``kind: litellm`` goes through litellm."""
    api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
    if config.api_key_env and api_key is None:
        log.warning("backend_key_missing", env=config.api_key_env, model=config.model)
    if isinstance(config, OpenAIBackendConfig):
        return OpenAICompatibleBackend(
            api_base=config.api_base,
            model=config.model,
            api_key=api_key,
            forward_client_key=config.forward_client_key,
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            first_byte_timeout_s=config.first_byte_timeout_s,
            idle_timeout_s=config.idle_timeout_s,
            stream_deadline_s=config.stream_deadline_s,
        )
    # Imported here: litellm itself loads on first call, but even this module is
    # only needed by a config that names it.
    from gateway.backends.litellm_backend import LitellmBackend

    return LitellmBackend(
        model=config.model, api_base=config.api_base, api_key=api_key, timeout_s=config.timeout_s
    )
