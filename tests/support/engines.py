"""Sharing one loaded engine across tests whose gateways each close their engines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from gateway.engines.base import Engine, GenerationRequest, GenerationResult


class Shared:
    """Delegates to an engine but ignores ``aclose``, so the session's model stays loaded."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Delegate."""
        return await self.engine.generate(requests)

    def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Delegate."""
        return self.engine.stream(request)

    async def ready(self) -> bool:
        """Delegate."""
        return await self.engine.ready()

    async def aclose(self) -> None:
        """Keep the engine open for the next test."""
