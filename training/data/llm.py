"""A chat LLM reached through litellm (critic, teacher, question writer or backend)."""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.engines.base import ChatTurn


class LLMEndpoint(BaseModel):
    """Where an LLM is: a litellm model string, optional base URL and key variable."""

    model_config = ConfigDict(frozen=True)

    model: str = Field(description="litellm model string, e.g. 'openai/gpt-4o-mini'.")
    api_base: str | None = Field(default=None, description="Base URL, e.g. http://host/v1.")
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding the API key."
    )
    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int = Field(default=1024, ge=1)
    timeout_s: float = Field(default=120.0, gt=0.0)
    concurrency: int = Field(default=4, ge=1, description="Requests in flight at once.")


class LLMError(Exception):
    """The LLM call failed or returned no text."""


class LLMClient:
    """Sends chat requests to one endpoint through ``litellm.acompletion``."""

    def __init__(self, endpoint: LLMEndpoint) -> None:
        self.endpoint = endpoint
        self._slots = asyncio.Semaphore(endpoint.concurrency)

    def _litellm(self) -> Any:
        # Without this litellm fetches its price list at import and, offline, retries.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        return importlib.import_module("litellm")

    async def complete(self, messages: Sequence[ChatTurn]) -> str:
        """The assistant's reply text."""
        endpoint = self.endpoint
        key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
        async with self._slots:
            try:
                response = await self._litellm().acompletion(
                    model=endpoint.model,
                    api_base=endpoint.api_base,
                    api_key=key,
                    messages=[turn.model_dump() for turn in messages],
                    temperature=endpoint.temperature,
                    max_tokens=endpoint.max_tokens,
                    timeout=endpoint.timeout_s,
                )
            except Exception as error:  # litellm has its own exception hierarchy
                raise LLMError(f"{endpoint.model}: {error}") from error
        content = response.choices[0].message.content
        if not content or not str(content).strip():
            raise LLMError(f"{endpoint.model} returned no text")
        return str(content)

    async def ask(self, prompt: str) -> str:
        """The reply to one user message."""
        return await self.complete([ChatTurn(role="user", content=prompt)])
