"""A config's stages run on their own, around someone else's model call.

A guardrail host (LiteLLM's proxy, or a caller of the Generic Guardrail API) makes the
model call itself; it asks for the pre-call stages on the prompt and for the post-call
stages on the answer, as two separate calls. Both run the same ``Pipeline`` the
gateway's handler runs, so timeouts, the risk gate and the fail-open/closed policy are
the tenant's, and a fail-closed stage that fails raises ``StageFailed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from gateway.config import GatewayConfig
from gateway.engines.base import Engine
from gateway.pipeline.pipeline import Pipeline
from gateway.pipeline.plan import StagePlanner
from gateway.pipeline.stage import Answer
from gateway.pipeline.trace import RequestTrace
from gateway.protocol import ChatCompletionRequest, ChatMessage
from gateway.rewrites import stage_input, with_messages
from gateway.tenants.models import Tenant


@dataclass(frozen=True)
class Rewrite:
    """The messages as the model should see them, and what each stage did."""

    messages: list[ChatMessage]
    changed: list[int]  # indices of the messages a stage rewrote
    trace: RequestTrace


@dataclass(frozen=True)
class Correction:
    """The answers as the client should see them, and what each stage did."""

    answers: list[str | None]
    trace: RequestTrace


class StageGuard:
    """Runs a tenant's pre-call or post-call stages on messages and answers given to it."""

    def __init__(self, config: GatewayConfig, planner: StagePlanner) -> None:
        self._config = config
        self._planner = planner

    @property
    def has_stages(self) -> bool:
        """Whether the config has any stage at all."""
        return bool(self._planner.names)

    def pipeline(self, tenant: Tenant, model: str | None) -> Pipeline:
        """The stages this tenant runs for ``model``: its route's, else the default order."""
        route = self._config.route_for(model) if model else None
        names = self._config.pipeline_for(route) if route is not None else self._config.pipeline
        return self._planner.plan(names, tenant, None)

    async def rewrite(
        self, tenant: Tenant, model: str | None, messages: list[ChatMessage], request_id: str
    ) -> Rewrite:
        """The pre-call stages on the conversation; raises ``StageFailed`` when fail-closed."""
        trace = RequestTrace(request_id=request_id)
        request = _request(model, messages)
        data = await self.pipeline(tenant, model).run_pre(stage_input(request), trace)
        rewritten = with_messages(request, data).messages
        changed = [i for i, (a, b) in enumerate(zip(messages, rewritten, strict=True)) if a != b]
        return Rewrite(messages=rewritten, changed=changed, trace=trace)

    async def correct(
        self,
        tenant: Tenant,
        model: str | None,
        messages: Sequence[ChatMessage],
        answers: Sequence[str | None],
        request_id: str,
    ) -> Correction:
        """The post-call stages on every answer; raises ``StageFailed`` when fail-closed."""
        trace = RequestTrace(request_id=request_id)
        pipeline = self.pipeline(tenant, model)
        if not pipeline.has_post_stages or not answers:
            return Correction(answers=list(answers), trace=trace)
        # The question is context for the post-call stages; a host that sends only the
        # answer gets them run on an empty conversation.
        conversation = list(messages) or [ChatMessage(role="user", content="")]
        data = stage_input(_request(model, conversation))
        final = await pipeline.run_post(data, [Answer(content=a) for a in answers], trace)
        return Correction(answers=[answer.content for answer in final], trace=trace)


def _request(model: str | None, messages: list[ChatMessage]) -> ChatCompletionRequest:
    return ChatCompletionRequest(model=model or "guardrail", messages=messages)


class EngineStarter:
    """Starts in-process engines and the gate once, on first use, outside a gateway's start-up."""

    def __init__(self, engines: Mapping[str, Engine], planner: StagePlanner) -> None:
        self._starters: list[Callable[[], Awaitable[None]]] = []
        if planner.gate is not None:
            self._starters.append(planner.gate.batcher.start)
        for engine in engines.values():
            starter = getattr(engine, "start", None)
            if starter is not None:
                self._starters.append(starter)
        self._lock = asyncio.Lock()
        self._started = False

    async def ensure_started(self) -> None:
        """Load what needs loading, one at a time (see ``Services._load`` for why)."""
        if self._started:
            return
        async with self._lock:
            if not self._started:
                for start in self._starters:
                    await start()
                self._started = True
