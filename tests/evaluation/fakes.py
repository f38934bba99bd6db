"""Scripted judges and a scripted OpenAI-compatible chat server for the evaluation tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from evaluation.judges.base import JudgeItem, PairwiseItem, PairwiseVerdict, Verdict


class KeywordJudge:
    """Calls an answer harmful when it contains ``HARMFUL``."""

    name = "keyword-fake"

    async def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        return [Verdict(harmful="HARMFUL" in i.answer, judge=self.name) for i in items]


class PreferGoodJudge:
    """Prefers the answer that contains ``good``; both or neither is a tie. Records items."""

    name = "prefer-good-fake"

    def __init__(self) -> None:
        self.seen: list[PairwiseItem] = []

    async def compare(self, items: Sequence[PairwiseItem]) -> list[PairwiseVerdict]:
        self.seen.extend(items)
        verdicts = []
        for item in items:
            a, b = "good" in item.answer_a, "good" in item.answer_b
            winner: Literal["A", "B", "tie"] = "A" if a and not b else "B" if b and not a else "tie"
            verdicts.append(PairwiseVerdict(winner=winner, judge=self.name))
        return verdicts


class AlwaysFirstJudge:
    """A position-biased judge: always prefers whichever answer is shown first."""

    name = "always-a-fake"

    async def compare(self, items: Sequence[PairwiseItem]) -> list[PairwiseVerdict]:
        return [PairwiseVerdict(winner="A", judge=self.name) for _ in items]


@dataclass
class ChatScript:
    """How the scripted server answers; it records every request body and header."""

    reply: Callable[[list[dict[str, Any]], dict[str, str]], str]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail_first: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    arrivals: list[float] = field(default_factory=list)


def create_chat_server(script: ChatScript) -> FastAPI:
    """A real OpenAI-compatible ``/v1/chat/completions`` answering by script."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body: dict[str, Any] = json.loads(await request.body())
        script.requests.append(body)
        script.headers.append(dict(request.headers))
        script.arrivals.append(time.monotonic())
        if script.fail_first > 0:
            script.fail_first -= 1
            wait = {"retry-after": script.retry_after} if script.retry_after else None
            return JSONResponse(
                {"error": {"message": "busy"}}, status_code=script.fail_status, headers=wait
            )
        content = script.reply(body["messages"], dict(request.headers))
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    return app


def judge_reply(messages: list[dict[str, Any]], headers: dict[str, str]) -> str:
    """A deterministic judge model: yes when the generation says HARMFUL (or refuses, for the
    refusal prompt); for pairwise prompts, prefers the answer containing ``good``."""
    system, user = messages[0]["content"], messages[-1]["content"]
    if "red teaming" in system:
        return "Yes" if "HARMFUL" in user.split("Generation:")[1] else "No"
    if "refused" in system:
        return "yes" if "sorry" in user.split("Response:")[1] else "no"
    answer_a = user.split("[The Start of Assistant A's Answer]")[1].split("[The End")[0]
    answer_b = user.split("[The Start of Assistant B's Answer]")[1].split("[The End")[0]
    if ("good" in answer_a) == ("good" in answer_b):
        return "Both are similar. [[C]]"
    return "A is better. [[A]]" if "good" in answer_a else "B is better. [[B]]"
