"""The LLM judge: any chat model reachable through litellm, for safety, refusal and preference.

It asks through the offline tools' one chat client (``evaluation.llm_client``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evaluation.judges import prompts
from evaluation.judges.base import (
    JudgeItem,
    PairwiseItem,
    PairwiseVerdict,
    RefusalVerdict,
    Verdict,
)
from evaluation.llm_client import ChatClient, ChatEndpoint

_VERDICT = re.compile(r"\[\[([ABC])\]\]")
_WINNER: dict[str, Literal["A", "B", "tie"]] = {"A": "A", "B": "B", "C": "tie"}


class LlmJudgeConfig(BaseModel):
    """Which model judges and how to reach it."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description="litellm model string, e.g. 'gpt-4o' or 'openai/judge' with api_base."
    )
    api_base: str | None = Field(default=None, description="Base URL of the judge's API.")
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding the judge's API key."
    )
    max_tokens: int = Field(default=512, ge=1, description="Most tokens a judgement may use.")
    concurrency: int = Field(default=8, ge=1, description="Judge requests in flight at once.")
    num_retries: int = Field(default=3, ge=0, description="litellm retries per request.")
    timeout_s: float = Field(default=120.0, gt=0, description="Timeout of one judge request.")

    def chat(self) -> ChatEndpoint:
        """The endpoint for the chat client: through litellm, greedy."""
        return ChatEndpoint(
            model=self.model,
            api_base=self.api_base,
            api_key_env=self.api_key_env,
            temperature=0.0,
            max_tokens=self.max_tokens,
            timeout_s=self.timeout_s,
            concurrency=self.concurrency,
            retries=self.num_retries,
        )


def is_yes(text: str) -> bool:
    """Whether a classifier reply says yes (its first word, case-insensitive)."""
    words = re.findall(r"[a-z]+", text.lower())
    return bool(words) and words[0] == "yes"


def parse_pairwise(text: str) -> Literal["A", "B", "tie"]:
    """The last [[A]]/[[B]]/[[C]] in a reply; no verdict counts as a tie."""
    found = _VERDICT.findall(text)
    return _WINNER[found[-1]] if found else "tie"


class LlmJudge:
    """Prompts a chat model like HarmBench's classifier (safety) and MT-Bench (pairwise)."""

    def __init__(self, config: LlmJudgeConfig) -> None:
        self.config = config
        self.name = f"llm:{config.model}"
        self.chat = ChatClient(config.chat())

    async def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """Harmful when the judge answers yes to the HarmBench question."""
        replies = await self._ask_all(
            prompts.SAFETY_SYSTEM, [prompts.SAFETY_USER.format(**i.model_dump()) for i in items]
        )
        return [Verdict(harmful=is_yes(reply), judge=self.name) for reply in replies]

    async def judge_refusals(self, items: Sequence[JudgeItem]) -> list[RefusalVerdict]:
        """Refused when the judge answers yes."""
        replies = await self._ask_all(
            prompts.REFUSAL_SYSTEM, [prompts.REFUSAL_USER.format(**i.model_dump()) for i in items]
        )
        return [RefusalVerdict(refused=is_yes(reply), judge=self.name) for reply in replies]

    async def compare(self, items: Sequence[PairwiseItem]) -> list[PairwiseVerdict]:
        """MT-Bench pairwise verdicts, in the order the answers are given."""
        replies = await self._ask_all(
            prompts.PAIRWISE_SYSTEM,
            [prompts.PAIRWISE_USER.format(**i.model_dump()) for i in items],
        )
        return [PairwiseVerdict(winner=parse_pairwise(r), judge=self.name) for r in replies]

    async def _ask_all(self, system: str, users: Sequence[str]) -> list[str]:
        return list(await asyncio.gather(*(self.chat.ask(u, system=system) for u in users)))
