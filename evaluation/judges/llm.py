"""The LLM judge: any chat model reachable through litellm, for safety, refusal and preference."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evaluation.judges import prompts
from evaluation.judges.base import (
    JudgeItem,
    PairwiseItem,
    PairwiseVerdict,
    RefusalVerdict,
    Verdict,
)

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
        # One semaphore per call: callers may come from different event loops.
        semaphore = asyncio.Semaphore(self.config.concurrency)
        return list(await asyncio.gather(*(self._ask(semaphore, system, u) for u in users)))

    async def _ask(self, semaphore: asyncio.Semaphore, system: str, user: str) -> str:
        # Without this, importing litellm fetches its price list from the network (and
        # retries for ~10 s where there is none); the bundled copy is enough for judging.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        async with semaphore:
            response: Any = await litellm.acompletion(
                model=self.config.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                api_base=self.config.api_base,
                api_key=self._api_key(),
                temperature=0.0,
                max_tokens=self.config.max_tokens,
                num_retries=self.config.num_retries,
                timeout=self.config.timeout_s,
            )
        return str(response.choices[0].message.content or "")

    def _api_key(self) -> str | None:
        if self.config.api_key_env is None:
            # OpenAI-compatible servers without auth still want some key from litellm.
            return "none" if self.config.api_base else None
        return os.environ[self.config.api_key_env]
