"""Process settings: one typed object from flags and ``ALIGNGATE_`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """How this gateway process runs; what it serves is in the YAML config."""

    model_config = SettingsConfigDict(env_prefix="ALIGNGATE_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8000, ge=0, le=65535)
    config: Path | None = Field(default=None, description="YAML config file.")
    upstream: str | None = Field(
        default=None, description="Quick mode: send every model to this OpenAI-compatible URL."
    )
    upstream_api_key_env: str | None = Field(
        default=None,
        description=(
            "Quick mode: environment variable holding the upstream's key; unset, the client's "
            "own key is forwarded while no tenants exist (never a tenant's gateway key)."
        ),
    )
    stages: str | None = Field(
        default=None,
        description=(
            "The stages to run, comma-separated, e.g. 'aligner' or 'bpo,aligner'; 'none' for "
            "none. With upstream: the embedded default's stages, engine and gate in front of "
            "it. Unset: quick mode runs none, a config file its own pipeline."
        ),
    )
    allow_open_public: bool = Field(
        default=False,
        description="Allow open mode (no tenants, any key) on a non-loopback interface.",
    )
    require_keys: bool = Field(
        default=False,
        description=(
            "Never run open: require a tenant key even before any tenant exists. Persisted "
            "in the store, so every replica sharing it requires keys from then on."
        ),
    )
    store: Literal["auto", "memory", "sqlite", "redis"] = Field(
        default="auto",
        description="Where tenants live; 'auto': Redis when redis_url is set, else SQLite.",
    )
    sqlite_path: Path = Field(
        default=Path(".aligngate/state.db"), description="The SQLite store's file."
    )
    redis_url: str | None = Field(
        default=None, description="Redis shared by all replicas, e.g. redis://redis:6379/0."
    )
    admin_key: SecretStr | None = Field(
        default=None, description="Key of the /admin API; unset, the admin API is disabled."
    )
    assignment_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Key of the experiment-assignment hash; every replica needs the same one. "
            "Unset: one is generated and kept in the tenant store."
        ),
    )
    engine_probe_interval_s: float = Field(
        default=15.0, gt=0, description="How often engines are probed for aligngate_engine_up."
    )
    max_concurrency: int = Field(
        default=512, ge=1, description="API requests in flight before new ones get 429."
    )
    max_loop_lag_ms: float | None = Field(
        default=1000.0,
        gt=0,
        description=(
            "Shed load: while the event loop runs this late, new API requests get 503 with "
            "Retry-After at once, so admitted ones finish in bounded time; unset: never."
        ),
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Gateway processes sharing the port (gateway/cli_workers.py).",
    )
    reuse_port: bool = Field(
        default=False,
        description="Listen with SO_REUSEPORT; set by --workers for each worker it starts.",
    )
    shutdown_grace_s: int = Field(
        default=30, ge=0, description="On SIGTERM, time for in-flight requests to finish."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed by CORS; empty: CORS off."
    )
    metrics_key: SecretStr | None = Field(
        default=None, description="When set, /metrics needs 'Authorization: Bearer <key>'."
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve /metrics on this port alone (same interface) and not on the API port.",
    )
    docs: bool | None = Field(
        default=None,
        description="Serve /docs, /redoc and /openapi.json; unset: only when the host is loopback.",
    )
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="Else 413.")
    max_buffered_answer_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description=(
            "A stream read whole for a post-call stage (the Aligner) is refused with 502 "
            "answer_too_large past this many bytes of events, whatever the failure policy."
        ),
    )
    body_read_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="Time a client has to send its whole request body, else 408; until then "
        "it holds no concurrency slot.",
    )
    log_content_max_chars: int = Field(
        default=8192,
        ge=256,
        description="Of a prompt or answer a log_content tenant has logged, the redacted "
        "excerpt's length; the rest is dropped, never scanned.",
    )
    log_level: str = Field(default="info")
    log_json: bool = Field(default=True, description="JSON logs; false for console output.")
