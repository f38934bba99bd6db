"""A scripted engine for tests: answers from a script, fails when over-called."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Literal

from gateway.engines.base import EngineError, GenerationRequest, GenerationResult

Reply = str | Exception | Callable[[GenerationRequest], str]


class ScriptedEngine:
    """Returns scripted replies in order; raises if called more often than scripted.

    A reply may be a string, an exception to raise, or a function of the request.
    ``delay_s`` makes every call slow, for timeout tests.
    """

    def __init__(
        self,
        replies: Sequence[Reply],
        *,
        delay_s: float = 0.0,
        repeat: bool = False,
        finish_reason: Literal["stop", "length"] = "stop",
    ):
        self._replies = list(replies)
        self._finish_reason: Literal["stop", "length"] = finish_reason
        self._delay_s = delay_s
        self._repeat = repeat
        self.requests: list[GenerationRequest] = []
        self.completed = 0  # calls that ran to the end (not cancelled)

    def _next(self, request: GenerationRequest) -> str:
        index = len(self.requests)
        self.requests.append(request)
        if index >= len(self._replies) and not self._repeat:
            raise EngineError(
                f"ScriptedEngine called {index + 1} times, scripted {len(self._replies)}"
            )
        reply = self._replies[index % len(self._replies)]
        if isinstance(reply, Exception):
            raise reply
        return reply(request) if callable(reply) else reply

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Return the next scripted reply for each request."""
        texts = [self._next(request) for request in requests]
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        self.completed += 1
        return [self._result(r, t) for r, t in zip(requests, texts, strict=True)]

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | GenerationResult]:
        """Yield the next scripted reply word by word, then its result, as real engines do."""
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        text = self._next(request)
        for piece in text.split(" "):
            yield piece + " "
        yield self._result(request, text)

    def _result(self, request: GenerationRequest, text: str) -> GenerationResult:
        # A word is a token here: counts a test can compute from what it sent.
        prompt = request.prompt or " ".join(t.content for t in request.messages or [])
        return GenerationResult(
            text=text,
            prompt_tokens=len(prompt.split()),
            completion_tokens=len(text.split()),
            finish_reason=self._finish_reason,
        )

    async def ready(self) -> bool:
        """Always ready."""
        return True

    async def aclose(self) -> None:
        """Nothing to release."""
