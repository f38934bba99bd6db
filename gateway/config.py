"""The YAML configuration: engines, exposed models, stages, pipeline order, tenants."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import structlog
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.backends.old_spelling import rewrite_old_spelling
from gateway.config_file import load_model_file
from gateway.engines.config import (
    EngineConfig,
    LlamaCppEngineConfig,
    TransformersEngineConfig,
)
from gateway.plugins import stage_kinds
from gateway.stage_modes import DEFAULT_REFUSAL, FailurePolicy, GateMode
from gateway.tenants.models import (
    SAFE_PASSTHROUGH,
    Experiment,
    PassthroughRoute,
    TenantLimits,
    TenantPolicy,
)

log = structlog.get_logger(__name__)

# Validation-context keys: the stage kinds a config may name, and where deprecated
# spellings are noted while a file is read.
STAGE_KINDS = "stage_kinds"
DEPRECATIONS = "deprecations"


class StrictModel(BaseModel):
    """Config models reject unknown keys so a typo fails at start-up, not in production."""

    model_config = ConfigDict(extra="forbid")


class RetryConfig(StrictModel):
    """Retries of a failed backend call, only ever before any byte reached the client.

    No attempt starts once ``budget_s`` have passed since the first began, so a client
    waits at most ``budget_s`` plus one attempt's limit (the backend's
    ``first_byte_timeout_s`` when it never answers, ``timeout_s`` for a whole non-streamed
    answer); quick failures (a refused connection, a 502) are still retried within it.
    """

    attempts: int = Field(default=3, ge=1, description="Tries in all, the first included.")
    backoff_s: float = Field(default=0.25, ge=0, description="First pause; doubles, jittered.")
    max_retry_after_s: float = Field(
        default=10.0, ge=0, description="A 429's Retry-After longer than this is not waited for."
    )
    budget_s: float = Field(
        default=30.0,
        ge=0,
        description="No new attempt after this long since the first began (a hung backend "
        "otherwise held a client attempts x first_byte_timeout_s).",
    )


class BreakerConfig(StrictModel):
    """A circuit breaker per backend: fail fast while a backend keeps failing."""

    failures: int = Field(default=5, ge=1, description="Consecutive failures that open it.")
    reset_after_s: float = Field(default=30.0, gt=0, description="Open time before a probe.")


class RemoteBackendConfig(StrictModel):
    """What every backend reached over the network has: a key, a time limit, retries."""

    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the API key."
    )
    timeout_s: float = Field(
        default=600.0, gt=0, description="Whole-request timeout of a non-streamed call."
    )
    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)


class OpenAIBackendConfig(RemoteBackendConfig):
    """A backend that speaks OpenAI's API itself (OpenAI, vLLM, Ollama...), called over HTTP.

    No litellm: the request goes to ``{api_base}/chat/completions`` as the client sent it.
    """

    kind: Literal["openai"] = "openai"
    api_base: str = Field(description="Base URL including the version, e.g. .../v1.")
    model: str = Field(
        description="The model name sent upstream; '*' sends the name the client asked for."
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, description="TCP connect timeout.")
    first_byte_timeout_s: float = Field(
        default=120.0, gt=0, description="From sending the request to the response's headers."
    )
    idle_timeout_s: float = Field(
        default=60.0, gt=0, description="Longest silence while reading, e.g. between chunks."
    )
    stream_deadline_s: float = Field(
        default=600.0,
        gt=0,
        description=(
            "Longest a streamed answer (chat or proxied) may take from sending the request "
            "to its last byte, so a backend trickling just under the idle timeout still ends."
        ),
    )
    forward_client_key: bool = Field(
        default=False,
        description=(
            "Send the client's own bearer token upstream when api_key_env is unset; only "
            "while no tenants exist, since a tenant's key is a gateway secret."
        ),
    )


class LitellmBackendConfig(RemoteBackendConfig):
    """A backend reached through litellm's translation (Anthropic, Bedrock, Gemini...)."""

    kind: Literal["litellm"] = "litellm"
    model: str = Field(description="litellm model string, e.g. 'anthropic/claude-3-5-haiku'.")
    api_base: str | None = Field(default=None, description="Base URL of the provider's API.")


class EngineBackendConfig(StrictModel):
    """A backend LLM served by one of the gateway's own engines (the embedded model)."""

    kind: Literal["engine"] = "engine"
    engine: str = Field(description="Name of an engine under 'engines'.")
    adapter: str | None = Field(default=None, description="LoRA adapter to answer with.")
    default_max_tokens: int = Field(default=256, ge=1, description="When a request sets none.")


def _old_spelling(data: Any, info: ValidationInfo) -> Any:
    """``kind: litellm`` for the direct path becomes ``kind: openai``, noted for the log."""
    data, note = rewrite_old_spelling(data)
    notes = (info.context or {}).get(DEPRECATIONS)
    if note is not None and isinstance(notes, list):
        notes.append(note)
    return data


BackendConfig = Annotated[
    OpenAIBackendConfig | LitellmBackendConfig | EngineBackendConfig,
    Field(discriminator="kind"),
    BeforeValidator(_old_spelling),
]


class ModelRoute(StrictModel):
    """A model the gateway exposes, mapped to its backend."""

    name: str = Field(description="The name clients put in the 'model' field.")
    backend: BackendConfig
    pipeline: list[str] | None = Field(
        default=None, description="Stage order for this model; default: the global pipeline."
    )
    fallbacks: list[str] = Field(
        default_factory=list,
        description="Models tried in order when this one's backend fails or its circuit is open.",
    )


class StageConfig(StrictModel):
    """Settings of one alignment stage (a BPO rewriter, an Aligner corrector, a plug-in's)."""

    kind: str = Field(
        description="Which stage implementation to run: the name of an installed stage "
        "plug-in (entry point group 'aligngate.stages'), e.g. 'bpo' or 'aligner'."
    )
    engine: str = Field(description="Name of the engine under 'engines' that runs the model.")
    model: str = Field(
        default="aligngate",
        description=(
            "The rewriter model's identity; 'THUDM/BPO' and 'aligner/aligner-7b-v1.0' select "
            "the released prompt formats, anything else the model's chat template."
        ),
    )
    adapter: str | None = Field(default=None, description="LoRA adapter name on the engine.")
    prompt_format: Literal["auto", "released", "chat"] = Field(
        default="auto", description="'auto' picks 'released' for the released models."
    )
    temperature: float = Field(default=0.0, ge=0, description="0 means greedy decoding.")
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=256, ge=1, description="Most new tokens the stage generates.")
    timeout_s: float = Field(default=30.0, gt=0, description="After this the stage is skipped.")
    on_failure: FailurePolicy = Field(
        default="open",
        description="'open': answer without the stage; 'closed': error, never unaligned text.",
    )
    gate: GateMode = Field(
        default="always",
        description="The default for every tenant: 'gated' runs the stage only when the risk "
        "gate scores the request at the threshold (needs gate.enabled); tenants may override.",
    )
    gate_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Default gate cut-off; None: the shipped head's."
    )
    refusal: str = Field(
        default=DEFAULT_REFUSAL,
        min_length=1,
        description="What a fail-closed post-call stage answers when the answer it leaves is "
        "still judged risky by the gate.",
    )

    @field_validator("kind")
    @classmethod
    def _kind_is_installed(cls, kind: str, info: ValidationInfo) -> str:
        # The installed kinds come in the validation context (``load_config``), so a file
        # naming a missing plug-in fails on its line; a config built in code, with its
        # own builders, fails when Services builds its stages.
        known = (info.context or {}).get(STAGE_KINDS)
        if known is not None and kind not in known:
            raise ValueError(
                f"unknown stage kind {kind!r}; known kinds: {', '.join(known) or 'none'}"
            )
        return kind


class TenantConfig(StrictModel):
    """A tenant seeded from the config file at start-up (created if the store lacks it)."""

    name: str
    api_key_sha256: list[str] = Field(
        default_factory=list, description="Hex SHA-256 digests of the tenant's API keys."
    )
    api_key_envs: list[str] = Field(
        default_factory=list, description="Environment variables holding plain API keys."
    )
    policy: TenantPolicy = Field(default_factory=TenantPolicy)
    limits: TenantLimits = Field(default_factory=TenantLimits)
    experiments: dict[str, Experiment] = Field(default_factory=dict)


# What computes the gate's features (gateway/gate/trunk.py, gateway/gate/llamacpp_trunk.py).
GateTrunk = Literal["transformers", "llamacpp"]


class GateConfig(StrictModel):
    """The risk gate's model files and batching; tenants choose per stage whether to use it."""

    enabled: bool = Field(
        default=False,
        description="Load the gate (it reads the embedded SmolLM2's hidden states).",
    )
    trunk: GateTrunk = Field(
        default="transformers",
        description="What computes those states: 'transformers' (torch, fp32; the 'local' "
        "extra) or 'llamacpp' (the model's own Q4_1 weights in llama.cpp, no torch; the "
        "'llamacpp' and 'gate' extras). Each has its own shipped heads, trained on its "
        "vectors.",
    )
    prompt_head: str | None = Field(default=None, description="Default: the shipped head.")
    answer_head: str | None = Field(default=None, description="Default: the shipped head.")
    batch_wait_ms: float = Field(
        default=0.0,
        ge=0,
        description="Extra wait before an idle gate encodes; texts arriving while a batch "
        "encodes are batched anyway.",
    )
    timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="How long one gate decision may take before the stage's failure policy "
        "applies. A long answer costs ~1 s on two idle cores; with the cores busy "
        "generating, 5 s failed 64 of 800 replayed decisions.",
    )


class TracingConfig(StrictModel):
    """OpenTelemetry traces over OTLP/HTTP; off unless enabled here or by OTEL_* variables."""

    enabled: bool | None = Field(
        default=None,
        description="None: on when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; "
        "OTEL_SDK_DISABLED=true turns it off either way.",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="The collector's OTLP/HTTP URL, e.g. http://collector:4318 ('/v1/traces' "
        "is added); None: the OTEL_EXPORTER_OTLP_* variables, else localhost:4318.",
    )
    service_name: str | None = Field(
        default=None, description="None: OTEL_SERVICE_NAME, else 'aligngate'."
    )
    sample_ratio: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of new traces kept (a client's sampled flag is followed); "
        "None: OTEL_TRACES_SAMPLER(_ARG), else all.",
    )


class GatewayConfig(StrictModel):
    """The whole gateway configuration, as loaded from YAML."""

    engines: dict[str, EngineConfig] = Field(default_factory=dict)
    models: list[ModelRoute] = Field(default_factory=list)
    default_backend: BackendConfig | None = Field(
        default=None, description="Serves any model name not listed under 'models'."
    )
    stages: dict[str, StageConfig] = Field(default_factory=dict)
    pipeline: list[str] = Field(default_factory=list, description="Default stage order.")
    tenants: list[TenantConfig] = Field(default_factory=list)
    gate: GateConfig = Field(default_factory=GateConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    passthrough: list[PassthroughRoute] = Field(
        default_factory=lambda: list(SAFE_PASSTHROUGH),
        description="Routes besides chat forwarded unchanged, for tenants whose policy sets none.",
    )

    @model_validator(mode="after")
    def _references_exist(self) -> GatewayConfig:
        for route in self.models:
            for stage in route.pipeline or []:
                if stage not in self.stages:
                    raise ValueError(f"model {route.name!r}: unknown stage {stage!r}")
            if isinstance(route.backend, EngineBackendConfig):
                self._check_engine(route.backend.engine, f"model {route.name!r}")
        for stage in self.pipeline:
            if stage not in self.stages:
                raise ValueError(f"pipeline: unknown stage {stage!r}")
        for name, stage_config in self.stages.items():
            self._check_engine(stage_config.engine, f"stage {name!r}")
        names = [route.name for route in self.models]
        if len(names) != len(set(names)):
            raise ValueError("models: each name must be unique")
        for route in self.models:
            for fallback in route.fallbacks:
                if fallback not in names or fallback == route.name:
                    raise ValueError(f"model {route.name!r}: bad fallback {fallback!r}")
        return self

    def _check_engine(self, engine: str, where: str) -> None:
        if engine not in self.engines:
            raise ValueError(f"{where}: unknown engine {engine!r}")

    def route_for(self, model: str) -> ModelRoute | None:
        """The route serving ``model``, falling back to the default backend."""
        for route in self.models:
            if route.name == model:
                return route
        if self.default_backend is not None:
            return ModelRoute(name=model, backend=self.default_backend)
        return None

    def pipeline_for(self, route: ModelRoute) -> list[str]:
        """The stage names that run, in order, for a route."""
        return self.pipeline if route.pipeline is None else route.pipeline


def load_config(path: Path) -> GatewayConfig:
    """Read and validate a YAML config file; relative adapter paths are relative to it.

    A mistake raises ``ConfigError``, one line naming the file, the line and the field.
    """
    deprecations: list[str] = []
    context = {STAGE_KINDS: stage_kinds(), DEPRECATIONS: deprecations}
    config = load_model_file(path, GatewayConfig, context=context)
    for note in dict.fromkeys(deprecations):
        log.warning("config_deprecated", file=str(path), message=note)
    for engine in config.engines.values():
        if isinstance(engine, TransformersEngineConfig | LlamaCppEngineConfig):
            engine.adapters = {
                name: str((path.parent / adapter).resolve())
                if not Path(adapter).is_absolute()
                else adapter
                for name, adapter in engine.adapters.items()
            }
    return config


def upstream_config(url: str, api_key_env: str | None) -> GatewayConfig:
    """Quick mode: every requested model goes to one OpenAI-compatible base URL."""
    backend = OpenAIBackendConfig(
        model="*",
        api_base=url.rstrip("/"),
        api_key_env=api_key_env,
        forward_client_key=api_key_env is None,
    )
    # Quick mode has no stages, so its generation routes skip nothing chat would run.
    quick: list[PassthroughRoute] = [*SAFE_PASSTHROUGH, "completions", "responses"]
    return GatewayConfig(default_backend=backend, passthrough=quick)
