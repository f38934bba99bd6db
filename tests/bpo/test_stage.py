"""The BPO stage's guards keep the original prompt when the rewrite is not trusted."""

from __future__ import annotations

import pytest

from bpo.guards import rejection_reason
from bpo.prompts import released_prompt
from bpo.stage import BpoStage
from gateway.config import StageConfig
from gateway.pipeline.stage import StageInput, StageMessage
from gateway.pipeline.trace import StageOutcome
from tests.support.scripted_engine import ScriptedEngine

PROMPT = "Explain how tides work."


def _input(*messages: tuple[str, str]) -> StageInput:
    turns = [StageMessage(role=r, content=c) for r, c in messages]
    return StageInput(model="m", original=turns, messages=list(turns))


def _stage(reply: str, **config: object) -> tuple[BpoStage, ScriptedEngine]:
    engine = ScriptedEngine([reply])
    return BpoStage("bpo", StageConfig(kind="bpo", engine="e", **config), engine), engine


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("Tides?", "length ratio 0.26 outside [0.5, 6.0]"),
        ("Explain tides. " * 20, "length ratio 13.00 outside [0.5, 6.0]"),
        ("Explain [protected] tides in detail please", "rewrite contains a [protected marker"),
        (PROMPT, "model kept the prompt"),
    ],
)
async def test_an_untrusted_rewrite_keeps_the_original_prompt(reply: str, reason: str) -> None:
    stage, _ = _stage(reply)
    result = await stage.before_call(_input(("user", PROMPT)))
    assert result.outcome is StageOutcome.UNCHANGED
    assert result.reason == reason
    assert result.messages is None


@pytest.mark.parametrize("reply", ["", "   \n ", "[/INST]  "])
async def test_an_empty_rewrite_is_a_failure_not_an_approval(reply: str) -> None:
    stage, _ = _stage(reply)
    result = await stage.before_call(_input(("user", PROMPT)))
    assert (result.outcome, result.reason, result.messages) == (
        StageOutcome.FAILED,
        "empty rewrite",
        None,
    )


async def test_a_good_rewrite_replaces_only_the_last_user_message() -> None:
    rewrite = "Explain how tides work, step by step, for a curious teenager."
    stage, engine = _stage(rewrite)
    data = _input(("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"), ("user", PROMPT))
    result = await stage.before_call(data)
    assert result.outcome is StageOutcome.REWRITTEN
    assert result.messages is not None
    assert [m.content for m in result.messages] == ["Be brief.", "Hi", "Hello", rewrite]
    assert engine.requests[0].messages is not None
    assert engine.requests[0].messages[0].content.endswith("\n" + PROMPT)


async def test_the_released_checkpoint_gets_its_own_raw_prompt_format() -> None:
    stage, engine = _stage(
        "[/INST] Explain, with an example, how the moon causes tides.",
        model="THUDM/BPO",
        temperature=0.6,
        top_p=0.9,
    )
    result = await stage.before_call(_input(("user", PROMPT)))
    request = engine.requests[0]
    assert request.prompt == released_prompt(PROMPT)
    assert request.prompt.startswith("[INST] You are an expert prompt engineer.")
    assert (request.temperature, request.top_p) == (0.6, 0.9)
    assert result.outcome is StageOutcome.REWRITTEN
    assert result.messages is not None
    assert result.messages[0].content == "Explain, with an example, how the moon causes tides."


async def test_a_conversation_without_user_text_is_skipped() -> None:
    stage, engine = _stage("unused")
    result = await stage.before_call(_input(("system", "Be brief.")))
    assert result.outcome is StageOutcome.SKIPPED
    assert engine.requests == []


def test_the_ratio_bounds_themselves_are_allowed() -> None:
    assert rejection_reason("abcd", "ab") is None
    assert rejection_reason("ab", "x" * 12) is None
