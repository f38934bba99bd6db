"""Start the real gateway app over HTTP for tests, with any config and engines."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import openai

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.engines.base import Engine
from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.tenants.ratelimit import RateLimiter
from gateway.tenants.store import TenantStore
from gateway.tracing.seam import Tracer
from tests.support.servers import serve_in_thread


@contextmanager
def running_gateway(
    config: GatewayConfig | dict[str, Any],
    engines: Mapping[str, Engine] | None = None,
    store: TenantStore | None = None,
    limiter: RateLimiter | None = None,
    tracer: Tracer | None = None,
    **settings: Any,
) -> Iterator[str]:
    """Serve a gateway for ``config`` and yield its base URL (without ``/v1``)."""
    if isinstance(config, dict):
        config = GatewayConfig.model_validate(config)
    services = Services(
        GatewaySettings(**settings),
        config,
        engines or {},
        store=store,
        limiter=limiter,
        tracer=tracer,
    )
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
            "kind": "openai",
            "model": "upstream-model",
            "api_base": upstream_url,
            **backend,
        },
    }


ADMIN_KEY = "admin-secret-key"


def admin(base_url: str, key: str = ADMIN_KEY) -> httpx.Client:
    """An HTTP client for the admin API."""
    return httpx.Client(base_url=f"{base_url}/admin", headers={"authorization": f"Bearer {key}"})


def create_tenant(base_url: str, name: str, **fields: Any) -> str:
    """Create a tenant through the admin API and return a new key for it."""
    with admin(base_url) as http:
        http.post("/tenants", json={"name": name, **fields}).raise_for_status()
        response = http.post(f"/tenants/{name}/keys", json={"label": "test"})
        response.raise_for_status()
        key: str = response.json()["key"]
    return key
