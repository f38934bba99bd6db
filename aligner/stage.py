"""The Aligner post-call stage: corrects the answer to the client's original question."""

from __future__ import annotations

from typing import Literal

from aligner.prompts import RELEASED_MODEL, chat_messages, released_prompt
from gateway.config import StageConfig
from gateway.engines.base import Engine, GenerationResult
from gateway.pipeline.generation import (
    generation_request,
    last_user_index,
    token_detail,
    uses_released_format,
)
from gateway.pipeline.stage import Answer, StageInput, StageResult
from gateway.pipeline.structured import json_problem, letter_problem
from gateway.pipeline.trace import StageOutcome


class AlignerStage:
    """Replaces the answer's text with the Aligner model's correction."""

    phase: Literal["post"] = "post"

    def __init__(self, name: str, config: StageConfig, engine: Engine) -> None:
        self.name = name
        self._config = config
        self._engine = engine
        self._released = uses_released_format(config, RELEASED_MODEL)

    async def correct(self, question: str, answer: str) -> str:
        """The model's correction of one question-answer pair, stripped."""
        return (await self._generate(question, answer)).text.strip()

    async def _generate(self, question: str, answer: str) -> GenerationResult:
        if self._released:
            request = generation_request(self._config, prompt=released_prompt(question, answer))
        else:
            request = generation_request(self._config, messages=chat_messages(question, answer))
        [result] = await self._engine.generate([request])
        return result

    async def after_call(self, data: StageInput, answer: Answer) -> StageResult:
        """Correct the answer's text, also the text beside tool calls; no text, no call."""
        # Tool calls themselves are not the Aligner's to judge: they pass as they came
        # (see gateway/answers.py). The text next to them is prose the client reads,
        # and a client can force that shape with its own tools, so it is corrected.
        if not answer.content or not answer.content.strip():
            skipped = "tool-call answer" if answer.has_tool_calls else "no answer text"
            return StageResult(outcome=StageOutcome.SKIPPED, reason=skipped)
        # The original question, not a BPO rewrite: the correction must fit what was asked.
        index = last_user_index([m.role for m in data.original])
        question = (data.original[index].content or "") if index is not None else ""
        result = await self._generate(question, answer.content)
        correction = result.text.strip()
        detail = token_detail(result) | {
            "chars_before": len(answer.content),
            "chars_after": len(correction),
        }
        if not correction:
            # No text is no verdict: "unchanged" would pass the original as approved,
            # so an engine answering null or blank has failed (fail-closed: a 503).
            return StageResult(
                outcome=StageOutcome.FAILED, reason="empty correction", detail=detail
            )
        if correction == answer.content.strip():
            return StageResult(
                outcome=StageOutcome.UNCHANGED, reason="model kept the answer", detail=detail
            )
        # A client that asked for JSON or an option letter parses the answer: a correction
        # of another shape would break it, so the answer is kept (and then verified).
        problem = json_problem(correction, data.response_format) or letter_problem(
            answer.content, correction
        )
        if problem is not None:
            return StageResult(
                outcome=StageOutcome.UNCHANGED, reason=f"correction {problem}", detail=detail
            )
        return StageResult(outcome=StageOutcome.CORRECTED, content=correction, detail=detail)


def build_aligner_stage(name: str, config: StageConfig, engine: Engine) -> AlignerStage:
    """The stage builder registered under kind ``aligner``."""
    return AlignerStage(name, config, engine)
