"""The BPO pre-call stage: rewrites the last user message; everything else stays."""

from __future__ import annotations

from typing import Literal

from bpo.guards import clean_rewrite, rejection_reason
from bpo.prompts import RELEASED_MODEL, chat_messages, released_prompt
from gateway.config import StageConfig
from gateway.engines.base import Engine, GenerationResult
from gateway.pipeline.generation import (
    generation_request,
    last_user_index,
    token_detail,
    uses_released_format,
)
from gateway.pipeline.stage import StageInput, StageResult
from gateway.pipeline.trace import StageOutcome


class BpoStage:
    """Rewrites the prompt with a BPO model; guards keep the original when in doubt."""

    phase: Literal["pre"] = "pre"

    def __init__(self, name: str, config: StageConfig, engine: Engine) -> None:
        self.name = name
        self._config = config
        self._engine = engine
        self._released = uses_released_format(config, RELEASED_MODEL)

    async def rewrite(self, prompt: str) -> str:
        """The model's raw rewrite of one prompt (cleaned, not yet guarded)."""
        return clean_rewrite((await self._generate(prompt)).text)

    async def _generate(self, prompt: str) -> GenerationResult:
        if self._released:
            request = generation_request(self._config, prompt=released_prompt(prompt))
        else:
            request = generation_request(self._config, messages=chat_messages(prompt))
        [result] = await self._engine.generate([request])
        return result

    async def before_call(self, data: StageInput) -> StageResult:
        """Replace the last user message with its rewrite, if the guards accept it."""
        index = last_user_index([m.role for m in data.messages])
        prompt = data.messages[index].content if index is not None else None
        if index is None or not prompt or not prompt.strip():
            return StageResult(outcome=StageOutcome.SKIPPED, reason="no user text to rewrite")
        result = await self._generate(prompt)
        rewrite = clean_rewrite(result.text)
        detail = token_detail(result) | {"chars_before": len(prompt), "chars_after": len(rewrite)}
        if not rewrite:
            # An engine answering null or blank text is broken, not of the opinion that
            # the prompt is fine: a failure, which the tenant's policy then decides on.
            return StageResult(outcome=StageOutcome.FAILED, reason="empty rewrite", detail=detail)
        reason = rejection_reason(prompt, rewrite)
        if reason is None and rewrite == prompt.strip():
            reason = "model kept the prompt"
        if reason is not None:
            return StageResult(outcome=StageOutcome.UNCHANGED, reason=reason, detail=detail)
        messages = list(data.messages)
        messages[index] = messages[index].model_copy(update={"content": rewrite})
        return StageResult(outcome=StageOutcome.REWRITTEN, messages=messages, detail=detail)


def build_bpo_stage(name: str, config: StageConfig, engine: Engine) -> BpoStage:
    """The stage builder registered under kind ``bpo``."""
    return BpoStage(name, config, engine)
