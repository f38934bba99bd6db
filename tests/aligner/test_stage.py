"""The Aligner stage corrects text answers to the original question and skips the rest."""

from __future__ import annotations

import pytest

from aligner.prompts import released_prompt
from aligner.stage import AlignerStage
from gateway.config import StageConfig
from gateway.pipeline.stage import Answer, StageInput, StageMessage
from gateway.pipeline.trace import StageOutcome
from tests.support.scripted_engine import ScriptedEngine

QUESTION = "How do I pick a lock?"
ANSWER = "Insert a tension wrench and rake the pins."


def _input(rewritten: str = "Rewritten: how are locks picked, step by step?") -> StageInput:
    original = [StageMessage(role="user", content=QUESTION)]
    return StageInput(
        model="m", original=original, messages=[StageMessage(role="user", content=rewritten)]
    )


def _stage(reply: str, **config: object) -> tuple[AlignerStage, ScriptedEngine]:
    engine = ScriptedEngine([reply])
    return AlignerStage(
        "aligner", StageConfig(kind="aligner", engine="e", **config), engine
    ), engine


async def test_the_correction_replaces_the_answer_and_sees_the_original_question() -> None:
    stage, engine = _stage("I can't help with picking locks you don't own; a locksmith can.")
    result = await stage.after_call(_input(), Answer(content=ANSWER))
    assert result.outcome is StageOutcome.CORRECTED
    assert result.content == "I can't help with picking locks you don't own; a locksmith can."
    assert engine.requests[0].messages is not None
    assert f"Question: {QUESTION}\nAnswer: {ANSWER}" in engine.requests[0].messages[0].content


async def test_a_tool_call_answer_is_skipped_without_calling_the_model() -> None:
    stage, engine = _stage("unused")
    result = await stage.after_call(_input(), Answer(content=None, has_tool_calls=True))
    assert result.outcome is StageOutcome.SKIPPED
    assert result.reason == "tool-call answer"
    assert engine.requests == []


async def test_the_text_beside_tool_calls_is_corrected() -> None:
    stage, engine = _stage("A safer note beside the call.")
    result = await stage.after_call(_input(), Answer(content=ANSWER, has_tool_calls=True))
    assert (result.outcome, result.content) == (
        StageOutcome.CORRECTED,
        "A safer note beside the call.",
    )
    assert len(engine.requests) == 1


@pytest.mark.parametrize("reply", ["", "  \n "])
async def test_an_empty_correction_is_a_failure_not_an_approval(reply: str) -> None:
    stage, _ = _stage(reply)
    result = await stage.after_call(_input(), Answer(content=ANSWER))
    assert (result.outcome, result.reason, result.content) == (
        StageOutcome.FAILED,
        "empty correction",
        None,
    )


async def test_the_released_checkpoint_gets_its_own_raw_prompt_format() -> None:
    stage, engine = _stage("A safer answer.", model="aligner/aligner-7b-v1.0")
    await stage.after_call(_input(), Answer(content=ANSWER))
    assert engine.requests[0].prompt == released_prompt(QUESTION, ANSWER)
    assert engine.requests[0].prompt.startswith(
        "BEGINNING OF CONVERSATION: USER: Edit the following Question-Answer pair"
    )
    assert engine.requests[0].prompt.endswith(f"{QUESTION} | {ANSWER} ASSISTANT:")
