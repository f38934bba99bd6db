"""Sharing one loaded engine across tests whose gateways each close their engines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from gateway.engines.base import Engine, GenerationRequest, GenerationResult, StreamItem


async def drain(stream: AsyncIterator[StreamItem]) -> tuple[list[str], GenerationResult | None]:
    """An engine stream read to its end: the text pieces, and the result it ended with."""
    pieces: list[str] = []
    result: GenerationResult | None = None
    async for item in stream:
        if isinstance(item, GenerationResult):
            result = item
        else:
            pieces.append(item)
    return pieces, result


class Shared:
    """Delegates to an engine but ignores ``aclose``, so the session's model stays loaded."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Delegate."""
        return await self.engine.generate(requests)

    def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        """Delegate."""
        return self.engine.stream(request)

    async def ready(self) -> bool:
        """Delegate."""
        return await self.engine.ready()

    async def aclose(self) -> None:
        """Keep the engine open for the next test."""
