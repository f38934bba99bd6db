"""Start the real gateway app over HTTP for tests, with any config and engines."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import openai

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.engines.base import Engine
from gateway.services import Services
from gateway.settings import GatewaySettings
from tests.support.servers import serve_in_thread


@contextmanager
def running_gateway(
    config: GatewayConfig | dict[str, Any],
    engines: Mapping[str, Engine] | None = None,
    **settings: Any,
) -> Iterator[str]:
    """Serve a gateway for ``config`` and yield its base URL (without ``/v1``)."""
    if isinstance(config, dict):
        config = GatewayConfig.model_validate(config)
    services = Services(GatewaySettings(**settings), config, engines or {})
    with serve_in_thread(create_app(services)) as url:
        yield url


def client(base_url: str, api_key: str = "sk-test") -> openai.OpenAI:
    """The official OpenAI client pointed at a gateway, without retries."""
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=60)


def upstream_route(name: str, upstream_url: str, **backend: Any) -> dict[str, Any]:
    """A config entry exposing ``name``, served by the loopback upstream."""
    return {
        "name": name,
        "backend": {
            "kind": "litellm",
            "model": "openai/upstream-model",
            "api_base": upstream_url,
            **backend,
        },
    }
