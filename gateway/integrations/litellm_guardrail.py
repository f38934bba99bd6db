"""aligngate's stages as a LiteLLM proxy guardrail, for users who keep their proxy.

In the proxy's config::

    guardrails:
      - guardrail_name: aligngate
        litellm_params:
          guardrail: gateway.integrations.litellm_guardrail.AligngateGuardrail
          mode: [pre_call, post_call]
          aligngate_config: /etc/aligngate/stages.yaml   # or ALIGNGATE_GUARDRAIL_CONFIG

The aligngate config file names the engines and stages (and may name tenants); its
stages are built by the same factory the gateway uses at start-up. ``pre_call``
rewrites the last user message (BPO), ``post_call`` corrects the answer (Aligner); a
stream is read whole, corrected, then sent, so no uncorrected token goes out first. A
stage that fails follows the config's ``on_failure``: closed, the request fails with
an error and no text; open, the text passes as it is.

This is the only module that imports litellm, and only the proxy imports this one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import HTTPException
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.types.guardrails import GuardrailEventHooks

from gateway.config import load_config
from gateway.engines.registry import build_engine
from gateway.errors import StageFailed
from gateway.integrations.stage_guard import EngineStarter, StageGuard
from gateway.protocol import ChatMessage
from gateway.stage_factory import build_stage_planner
from gateway.tenants.models import Tenant

CONFIG_ENV = "ALIGNGATE_GUARDRAIL_CONFIG"

T = TypeVar("T")


class AligngateGuardrail(CustomGuardrail):
    """Runs an aligngate config's stages in LiteLLM's pre-call, post-call and stream hooks."""

    def __init__(
        self,
        aligngate_config: str | None = None,
        aligngate_tenant: str | None = None,
        **kwargs: Any,
    ) -> None:
        path = aligngate_config or os.environ.get(CONFIG_ENV)
        if not path:
            raise ValueError(
                f"the aligngate guardrail needs a config file: set litellm_params."
                f"aligngate_config or {CONFIG_ENV}"
            )
        config = load_config(Path(path))
        engines = {name: build_engine(engine) for name, engine in config.engines.items()}
        planner = build_stage_planner(config, engines)
        self._guard = StageGuard(config, planner)
        self._starter = EngineStarter(engines, planner)
        self._tenant = _tenant(config.tenants, aligngate_tenant)
        super().__init__(**kwargs)

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        """Rewrite the conversation in place with the pre-call stages."""
        if not self.should_run_guardrail(data=data, event_type=GuardrailEventHooks.pre_call):
            return data
        rows = data.get("messages")
        if not isinstance(rows, list) or not rows:
            return data
        await self._starter.ensure_started()
        messages = [ChatMessage.model_validate(row) for row in rows]
        rewrite = await _closed(
            self._guard.rewrite(self._tenant, data.get("model"), messages, _call_id(data))
        )
        for index in rewrite.changed:
            rows[index] = {**rows[index], "content": rewrite.messages[index].content}
        return data

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        """Correct every choice's text with the post-call stages."""
        if not self.should_run_guardrail(data=data, event_type=GuardrailEventHooks.post_call):
            return response
        choices = getattr(response, "choices", None) or []
        texts = [_message_text(choice) for choice in choices]
        if not any(texts):
            return response
        corrected = await self._correct(data, texts)
        for choice, old, new in zip(choices, texts, corrected, strict=True):
            if new is not None and new != old:
                choice.message.content = new
        return response

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: AsyncIterator[Any], request_data: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        """Read the whole stream, correct it, then send its chunks with the corrected text."""
        if not self.should_run_guardrail(
            data=request_data, event_type=GuardrailEventHooks.post_call
        ):
            async for item in response:
                yield item
            return
        chunks = [chunk async for chunk in response]
        texts = _streamed_texts(chunks)
        indices = sorted(texts)
        corrected = await self._correct(request_data, [texts[i] for i in indices])
        pairs = zip(indices, corrected, strict=True)
        final = {i: new if new is not None else texts[i] for i, new in pairs}
        for chunk in _with_texts(chunks, final):
            yield chunk

    async def _correct(self, data: dict[str, Any], texts: list[str | None]) -> list[str | None]:
        await self._starter.ensure_started()
        rows = data.get("messages") or []
        messages = [ChatMessage.model_validate(row) for row in rows if isinstance(row, dict)]
        correction = await _closed(
            self._guard.correct(self._tenant, data.get("model"), messages, texts, _call_id(data))
        )
        return correction.answers


def _tenant(tenants: list[Any], name: str | None) -> Tenant:
    """The named config tenant, whose policy the stages then follow; else the config's defaults."""
    if name is None:
        return Tenant(name="litellm")
    for tenant in tenants:
        if tenant.name == name:
            return Tenant(name=tenant.name, policy=tenant.policy)
    raise ValueError(f"aligngate_tenant {name!r} is not a tenant of the aligngate config")


async def _closed(call: Awaitable[T]) -> T:
    """Await a stage call; a fail-closed failure becomes the proxy's HTTP error, no text."""
    try:
        return await call
    except StageFailed as exc:
        error = {"message": exc.message, "type": exc.error_type, "code": exc.code}
        raise HTTPException(status_code=exc.status_code, detail={"error": error}) from exc


def _call_id(data: dict[str, Any]) -> str:
    return str(data.get("litellm_call_id") or uuid.uuid4().hex)


def _message_text(choice: Any) -> str | None:
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    return content if isinstance(content, str) else None


def _streamed_texts(chunks: list[Any]) -> dict[int, str | None]:
    """Each choice's text, joined from its deltas, by choice index."""
    texts: dict[int, str | None] = {}
    for chunk in chunks:
        for choice in getattr(chunk, "choices", None) or []:
            content = getattr(choice.delta, "content", None)
            if isinstance(content, str):
                texts[choice.index] = (texts.get(choice.index) or "") + content
            else:
                texts.setdefault(choice.index, None)
    return texts


def _with_texts(chunks: list[Any], texts: dict[int, str | None]) -> list[Any]:
    """The chunks with each choice's whole text in its first text delta and none after."""
    sent: set[int] = set()
    for chunk in chunks:
        for choice in getattr(chunk, "choices", None) or []:
            if not isinstance(getattr(choice.delta, "content", None), str):
                continue
            choice.delta.content = "" if choice.index in sent else texts.get(choice.index) or ""
            sent.add(choice.index)
    return chunks
