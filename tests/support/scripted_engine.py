"""A scripted engine for tests: answers from a script, fails when over-called."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from gateway.engines.base import EngineError, GenerationRequest, GenerationResult

Reply = str | Exception | Callable[[GenerationRequest], str]


class ScriptedEngine:
    """Returns scripted replies in order; raises if called more often than scripted.

    A reply may be a string, an exception to raise, or a function of the request.
    ``delay_s`` makes every call slow, for timeout tests.
    """

    def __init__(self, replies: Sequence[Reply], *, delay_s: float = 0.0, repeat: bool = False):
        self._replies = list(replies)
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
        return [GenerationResult(text=t, completion_tokens=len(t.split())) for t in texts]

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Yield the next scripted reply word by word."""
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        for piece in self._next(request).split(" "):
            yield piece + " "

    async def ready(self) -> bool:
        """Always ready."""
        return True

    async def aclose(self) -> None:
        """Nothing to release."""
