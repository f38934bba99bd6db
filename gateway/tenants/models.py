"""Typed tenant records: policy, limits, experiments and key records."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.stage_modes import FailurePolicy, GateMode, RunMode

# One rule for names in bodies and in URLs (FastAPI checks path names with it too).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)

# Routes other than chat that the gateway can forward, by the name a policy lists them
# under. The stateless, non-generating ones are the default; generation routes run no
# stages yet; the rest are objects stored at the provider under the one upstream key
# every tenant shares, so a tenant allowed them can read and delete the others'.
PassthroughRoute = Literal[
    "models",
    "embeddings",
    "moderations",
    "completions",
    "responses",
    "stored_responses",
    "stored_chat_completions",
    "files",
    "batches",
    "assistants",
    "threads",
    "vector_stores",
    "uploads",
    "fine_tuning",
    "images",
    "audio",
]
SAFE_PASSTHROUGH: tuple[PassthroughRoute, ...] = ("models", "embeddings", "moderations")


def check_name(value: str) -> str:
    """Names appear in URLs, metric labels and hashes: keep them short and plain."""
    # fullmatch: with match, '$' would let a trailing newline through.
    if not _NAME.fullmatch(value):
        raise ValueError(
            "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


# Fields of one stage's setting that admins put at the policy level by mistake.
_STAGE_FIELDS = ("mode", "timeout_s", "gate", "gate_threshold")


def misplaced_stage_settings(data: Any) -> Any:
    """Refuse a per-stage field at the policy level with the spelling that works."""
    if isinstance(data, dict):
        for name in _STAGE_FIELDS:
            if name in data:
                example = json.dumps({"stages": {"aligner": {name: data[name]}}})
                raise ValueError(f"{name!r} is set per stage, e.g. {example}")
    return data


class Strict(BaseModel):
    """Tenant records reject unknown fields: a typo in an admin call is an error."""

    model_config = ConfigDict(extra="forbid")


class StageSetting(Strict):
    """How one stage runs for a tenant or an experiment arm."""

    mode: RunMode | None = Field(
        default=None,
        description="'on', 'off', or 'shadow' (runs the stage but returns the unmodified "
        "text); None: the layer below ('on' when no layer sets it).",
    )
    timeout_s: float | None = Field(default=None, gt=0, description="Overrides the stage's.")
    on_failure: FailurePolicy | None = Field(
        default=None, description="Overrides the tenant's default failure policy."
    )
    gate: GateMode | None = Field(
        default=None,
        description="'gated': run only when the risk gate scores the request at the threshold; "
        "None: the stage's configured default.",
    )
    gate_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Gate cut-off; None: the shipped head's."
    )


class TenantPolicy(Strict):
    """Which stages run, how they fail, and what the tenant opted into."""

    pipeline: list[str] | None = Field(
        default=None,
        description="Stage names in order, from the gateway config; None: the model's pipeline.",
    )
    stages: dict[str, StageSetting] = Field(default_factory=dict)
    on_failure: FailurePolicy | None = Field(
        default=None,
        description="'closed': an error instead of an unaligned answer; None: each stage's own.",
    )
    experiment: str | None = Field(default=None, description="The running experiment's name.")
    allow_force_arm: bool = Field(
        default=False, description="Honour the x-aligngate-force-arm header (for evaluation)."
    )
    log_content: bool = Field(
        default=False, description="Log prompts and answers, with secrets redacted."
    )
    passthrough: list[PassthroughRoute] | None = Field(
        default=None,
        description=(
            "Routes this tenant may reach unchanged, besides the generation routes (chat, "
            "completions, responses), which always run its stages; None: the config's "
            "'passthrough'. Other routes that generate are refused while it has stages."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _stage_fields_here(cls, data: Any) -> Any:
        return misplaced_stage_settings(data)


class TenantLimits(Strict):
    """Per-tenant request limits; None means the gateway's default."""

    max_messages: int | None = Field(default=None, ge=1)
    max_prompt_chars: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)


class Arm(Strict):
    """One arm of an experiment: its share of traffic and the stages it runs."""

    name: str
    weight: float = Field(ge=0)
    pipeline: list[str] = Field(default_factory=list, description="Stage names in order.")
    stages: dict[str, StageSetting] = Field(default_factory=dict)

    _check = field_validator("name")(check_name)


class Experiment(Strict):
    """A split of a tenant's traffic between named arms, sticky per user."""

    name: str
    arms: list[Arm] = Field(min_length=1)

    _check = field_validator("name")(check_name)

    @model_validator(mode="after")
    def _valid_arms(self) -> Experiment:
        names = [arm.name for arm in self.arms]
        if len(set(names)) != len(names):
            raise ValueError("arm names must be unique")
        if sum(arm.weight for arm in self.arms) <= 0:
            raise ValueError("at least one arm needs a positive weight")
        return self

    def arm(self, name: str) -> Arm | None:
        """The arm called ``name``."""
        return next((arm for arm in self.arms if arm.name == name), None)


class Tenant(Strict):
    """A tenant and everything it owns except its keys."""

    name: str
    policy: TenantPolicy = Field(default_factory=TenantPolicy)
    limits: TenantLimits = Field(default_factory=TenantLimits)
    experiments: dict[str, Experiment] = Field(default_factory=dict)

    _check = field_validator("name")(check_name)

    @model_validator(mode="after")
    def _keyed_by_name(self) -> Tenant:
        # The key is what policies and URLs use, so it obeys the same rule as the name.
        for key, experiment in self.experiments.items():
            if key != experiment.name:
                raise ValueError(f"experiment '{experiment.name}' is filed under '{key}'")
        return self


class KeyRecord(Strict):
    """A stored API key: only its SHA-256 digest and a short prefix to recognise it by."""

    id: str
    tenant: str
    sha256: str
    prefix: str
    label: str = ""
    created_at: float
