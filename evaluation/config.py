"""The typed configuration of an evaluation: runs, suites, judges and outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evaluation.client import EndpointConfig
from evaluation.judges.llm import LlmJudgeConfig
from evaluation.suites.prompt_sets import PromptSetSource

SuiteKind = Literal["safety", "over_refusal", "helpfulness", "consistency", "typos"]


class SuiteConfig(BaseModel):
    """One suite and its prompt set."""

    model_config = ConfigDict(extra="forbid")

    kind: SuiteKind
    source: PromptSetSource | None = Field(
        default=None,
        description="Prompt file; for consistency, rows must map safe_answer and harmful_answer.",
    )
    choice_items: Path | None = Field(
        default=None, description="Consistency only: choice items from `eval build-choices`."
    )

    @model_validator(mode="after")
    def _has_input(self) -> SuiteConfig:
        if self.source is None and self.choice_items is None:
            raise ValueError(f"suite {self.kind!r} needs a source (or choice_items)")
        if self.choice_items is not None and self.kind != "consistency":
            raise ValueError("choice_items is for the consistency suite only")
        return self


class JudgesConfig(BaseModel):
    """Which judge decides harm, refusal and preference."""

    model_config = ConfigDict(extra="forbid")

    safety: Literal["refusal-markers", "offline", "llm"] = Field(
        default="offline", description="Judge of harm (safety, consistency, typos)."
    )
    refusal: Literal["refusal-markers", "llm"] = Field(
        default="refusal-markers", description="Judge of refusals (over-refusal)."
    )
    llm: LlmJudgeConfig | None = Field(
        default=None, description="The LLM judge; needed for 'llm' choices and helpfulness."
    )

    @model_validator(mode="after")
    def _llm_configured(self) -> JudgesConfig:
        if "llm" in (self.safety, self.refusal) and self.llm is None:
            raise ValueError("an 'llm' judge needs the llm judge configured")
        return self


class EvalConfig(BaseModel):
    """A whole evaluation: runs are compared against the first one."""

    model_config = ConfigDict(extra="forbid")

    runs: list[EndpointConfig] = Field(min_length=1)
    suites: list[SuiteConfig] = Field(min_length=1)
    judges: JudgesConfig = Field(default_factory=JudgesConfig)
    output_dir: Path = Field(default=Path("eval-out"))
    seed: int = Field(default=0, description="Seed of answer order and typo injection.")
    typo_rate: float = Field(default=0.1, gt=0.0, le=1.0)
    progress: bool = True
