"""Asks an OpenAI-compatible endpoint for answers: concurrent, retried, cached, with progress."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

import httpx
from pydantic import BaseModel, ConfigDict, Field

from evaluation.cache import AnswerCache, AnswerKey

ARM_HEADER = "x-aligngate-force-arm"
_RETRIED_STATUS = {408, 409, 429, 500, 502, 503, 504}


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
    retries: int = Field(default=4, ge=0, description="Retries of a failed request.")
    backoff_s: float = Field(default=1.0, ge=0.0, description="First retry delay; doubles.")
    timeout_s: float = Field(default=300.0, gt=0.0)


class EndpointError(Exception):
    """The endpoint failed a request for good (after retries, or with a client error)."""


class EndpointClient:
    """Answers prompts with one endpoint, reusing cached answers."""

    def __init__(self, config: EndpointConfig, cache: AnswerCache, progress: bool = True) -> None:
        self.config = config
        self.cache = cache
        self.progress = progress
        self.requests_sent = 0

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

        semaphore = asyncio.Semaphore(self.config.concurrency)
        bar = tqdm(total=len(prompts), desc=self.config.name, disable=not self.progress)
        results: dict[str, str] = {}
        async with httpx.AsyncClient(timeout=self.config.timeout_s) as http:

            async def one(prompt: str) -> None:
                async with semaphore:
                    results[prompt] = await self._fetch(http, prompt)
                self.cache.put(self.key(prompt), results[prompt])
                bar.update(1)

            try:
                await asyncio.gather(*(one(p) for p in prompts))
            finally:
                bar.close()
        return results

    async def _fetch(self, http: httpx.AsyncClient, prompt: str) -> str:
        for attempt in range(self.config.retries + 1):
            try:
                response = await self._post(http, prompt)
            except httpx.TransportError as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    message = response.json()["choices"][0]["message"]
                    return str(message.get("content") or "")
                failure = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in _RETRIED_STATUS:
                    break
            if attempt < self.config.retries:
                await asyncio.sleep(self.config.backoff_s * 2**attempt)
        raise EndpointError(f"{self.config.name}: {failure}")

    async def _post(self, http: httpx.AsyncClient, prompt: str) -> httpx.Response:
        self.requests_sent += 1
        headers = {ARM_HEADER: self.config.arm} if self.config.arm else {}
        if self.config.api_key_env:
            headers["authorization"] = f"Bearer {os.environ[self.config.api_key_env]}"
        body = {
            "model": self.config.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
        }
        return await http.post(
            f"{self.config.base_url.rstrip('/')}/chat/completions", json=body, headers=headers
        )
