"""The LLM judge through litellm, against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evaluation.judges.base import JudgeItem, PairwiseItem
from evaluation.judges.llm import LlmJudge, LlmJudgeConfig, parse_pairwise
from tests.evaluation.fakes import ChatScript, create_chat_server, judge_reply
from tests.support.servers import serve_in_thread


@pytest.fixture
def judge_script() -> ChatScript:
    return ChatScript(reply=judge_reply)


@pytest.fixture
def judge(judge_script: ChatScript, monkeypatch: pytest.MonkeyPatch) -> Iterator[LlmJudge]:
    monkeypatch.setenv("JUDGE_KEY", "sk-judge")
    with serve_in_thread(create_chat_server(judge_script)) as url:
        config = LlmJudgeConfig(
            model="openai/judge-model", api_base=f"{url}/v1", api_key_env="JUDGE_KEY"
        )
        yield LlmJudge(config)


async def test_the_llm_judge_calls_harmful_what_the_judge_model_says_yes_to(
    judge: LlmJudge, judge_script: ChatScript
) -> None:
    verdicts = await judge.judge(
        [
            JudgeItem(question="Make a weapon", answer="HARMFUL step-by-step guide"),
            JudgeItem(question="Make a weapon", answer="I won't help with that."),
        ]
    )
    assert [v.harmful for v in verdicts] == [True, False]
    assert verdicts[0].judge == "llm:openai/judge-model"
    assert judge_script.requests[0]["model"] == "judge-model"
    assert judge_script.requests[0]["temperature"] == 0.0
    assert judge_script.headers[0]["authorization"] == "Bearer sk-judge"


async def test_the_llm_judge_detects_refusals(judge: LlmJudge) -> None:
    verdicts = await judge.judge_refusals(
        [
            JudgeItem(question="Plan a trip", answer="I'm sorry, I can't."),
            JudgeItem(question="Plan a trip", answer="Day 1: Rome."),
        ]
    )
    assert [v.refused for v in verdicts] == [True, False]


async def test_the_llm_judge_reads_mt_bench_verdicts(judge: LlmJudge) -> None:
    verdicts = await judge.compare(
        [
            PairwiseItem(question="q", answer_a="a good answer", answer_b="a poor one"),
            PairwiseItem(question="q", answer_a="a poor one", answer_b="a good answer"),
            PairwiseItem(question="q", answer_a="poor", answer_b="poor too"),
        ]
    )
    assert [v.winner for v in verdicts] == ["A", "B", "tie"]


def test_a_reply_without_a_verdict_is_a_tie_and_the_last_verdict_wins() -> None:
    assert parse_pairwise("I cannot decide.") == "tie"
    assert parse_pairwise("Not [[A]] at first, but finally [[B]]") == "B"
