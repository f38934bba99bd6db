"""Asks an OpenAI-compatible endpoint for answers: concurrent, retried, cached, with progress.

The requests go through the offline tools' one client (``evaluation.llm_client``) over
plain HTTP; this module adds the run's configuration, the answer cache and the bar.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from evaluation.cache import AnswerCache, AnswerKey
from evaluation.llm_client import ChatClient, ChatEndpoint, LlmError

ARM_HEADER = "x-aligngate-force-arm"
EndpointError = LlmError  # the endpoint failed a request for good


class EndpointConfig(BaseModel):
    """One evaluated run: an OpenAI-compatible endpoint, a model and an optional forced arm."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Name of the run in results and charts.")
    base_url: str = Field(description="Base URL including /v1, e.g. http://127.0.0.1:8000/v1.")
    model: str = Field(description="Model name sent in each request.")
    api_key_env: str | None = Field(default=None, description="Env var with the API key.")
    arm: str | None = Field(default=None, description=f"Sent as the {ARM_HEADER} header.")
    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    concurrency: int = Field(default=4, ge=1, description="Requests in flight at once.")
    retries: int = Field(
        default=4, ge=0, description="Retries of a failed request (the server's Retry-After wins)."
    )
    timeout_s: float = Field(default=300.0, gt=0.0)

    def chat(self) -> ChatEndpoint:
        """The endpoint for the chat client: direct HTTP, the arm as a header."""
        return ChatEndpoint(
            model=self.model,
            transport="http",
            api_base=self.base_url,
            api_key_env=self.api_key_env,
            label=self.name,
            headers={ARM_HEADER: self.arm} if self.arm else {},
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout_s=self.timeout_s,
            concurrency=self.concurrency,
            retries=self.retries,
        )


class EndpointClient:
    """Answers prompts with one endpoint, reusing cached answers."""

    def __init__(self, config: EndpointConfig, cache: AnswerCache, progress: bool = True) -> None:
        self.config = config
        self.cache = cache
        self.progress = progress
        self.chat = ChatClient(config.chat())

    def key(self, prompt: str) -> AnswerKey:
        """The cache key of a prompt for this endpoint."""
        c = self.config
        return AnswerKey(
            base_url=c.base_url,
            model=c.model,
            arm=c.arm,
            prompt=prompt,
            max_tokens=c.max_tokens,
            temperature=c.temperature,
        )

    async def ask(self, prompts: Sequence[str]) -> list[str]:
        """One answer per prompt, in order; only prompts missing from the cache are sent."""
        answers = [self.cache.get(self.key(p)) for p in prompts]
        missing = sorted({p for p, a in zip(prompts, answers, strict=True) if a is None})
        if missing:
            fetched = await self._fetch_all(missing)
            answers = [
                a if a is not None else fetched[p] for p, a in zip(prompts, answers, strict=True)
            ]
        return [a or "" for a in answers]

    async def _fetch_all(self, prompts: list[str]) -> dict[str, str]:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(prompts), desc=self.config.name, disable=not self.progress)
        results: dict[str, str] = {}

        async def one(prompt: str) -> None:
            results[prompt] = await self.chat.ask(prompt)
            self.cache.put(self.key(prompt), results[prompt])
            bar.update(1)

        try:
            async with self.chat.session():
                await asyncio.gather(*(one(p) for p in prompts))
        finally:
            bar.close()
        return results
