"""LiteLLM's Generic Guardrail API over a tenant's stages: its wire models and its handler.

LiteLLM's ``generic_guardrail_api`` guardrail posts the texts of a request (with the
chat rows they came from) before the model call, and the texts of the answer after it,
to ``POST /beta/litellm_basic_guardrail_api``. The answer says ``NONE`` (unchanged),
``GUARDRAIL_INTERVENED`` (use these texts instead) or ``BLOCKED``. A request runs the
tenant's pre-call stages (BPO rewrites the last user message); a response runs its
post-call stages (the Aligner corrects each answer).

The no-leak promise holds here as on the chat route: a fail-closed stage that fails
answers ``BLOCKED``, never ``NONE``, so the host never lets the unaligned text through
as approved.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from gateway.errors import StageFailed
from gateway.integrations.stage_guard import StageGuard
from gateway.protocol import ChatMessage, WireModel
from gateway.quota import Quota
from gateway.tenants.models import Tenant


class GuardrailApiRequest(WireModel):
    """What LiteLLM's generic guardrail posts; its other fields are accepted and ignored."""

    input_type: Literal["request", "response"] = Field(
        description="'request': the prompt, before the model call; 'response': the answer."
    )
    texts: list[str] | None = Field(
        default=None, description="The texts to check, in the order of the rows they came from."
    )
    structured_messages: list[ChatMessage] | None = Field(
        default=None, description="The request's chat rows (OpenAI format), if the host sends them."
    )
    model: str | None = Field(default=None, description="The model of the call, if known.")
    litellm_call_id: str | None = None


class GuardrailAction(StrEnum):
    """The verdict: pass unchanged, use the returned texts, or stop the call."""

    NONE = "NONE"
    GUARDRAIL_INTERVENED = "GUARDRAIL_INTERVENED"
    BLOCKED = "BLOCKED"


class GuardrailApiResponse(BaseModel):
    """The verdict and, when the stages changed something, the texts to use instead."""

    action: GuardrailAction
    texts: list[str] | None = Field(
        default=None, description="Every input text, changed or not, in the input order."
    )
    structured_messages: list[dict[str, object]] | None = Field(
        default=None, description="The chat rows with the rewritten ones replaced (requests)."
    )
    blocked_reason: str | None = None


class GuardrailApi:
    """Answers Generic Guardrail API calls with a tenant's stages; built once at start-up."""

    def __init__(self, guard: StageGuard, quota: Quota) -> None:
        self._guard = guard
        self._quota = quota

    async def check(
        self, body: GuardrailApiRequest, tenant: Tenant, request_id: str
    ) -> GuardrailApiResponse:
        """The verdict on ``body``; a failed fail-closed stage is a block, never a pass.

        A call counts against the tenant's requests per minute as a chat request does:
        it runs the same stages on the same engines (429 with Retry-After past it).
        """
        await self._quota.admit(tenant)
        try:
            if body.input_type == "request":
                return await self._request(body, tenant, request_id)
            return await self._response(body, tenant, request_id)
        except StageFailed as exc:
            return GuardrailApiResponse(action=GuardrailAction.BLOCKED, blocked_reason=exc.message)

    async def _request(
        self, body: GuardrailApiRequest, tenant: Tenant, request_id: str
    ) -> GuardrailApiResponse:
        texts = body.texts or []
        rows = body.structured_messages
        messages = rows if rows else [ChatMessage(role="user", content=t) for t in texts]
        if not messages:
            return GuardrailApiResponse(action=GuardrailAction.NONE)
        rewrite = await self._guard.rewrite(tenant, body.model, messages, request_id)
        if not rewrite.changed:
            return GuardrailApiResponse(action=GuardrailAction.NONE)
        if not rows:
            new_texts = [m.text() or "" for m in rewrite.messages]
            return GuardrailApiResponse(
                action=GuardrailAction.GUARDRAIL_INTERVENED, texts=new_texts
            )
        return GuardrailApiResponse(
            action=GuardrailAction.GUARDRAIL_INTERVENED,
            texts=rewritten_texts(texts, rows, rewrite.messages, rewrite.changed),
            structured_messages=[m.to_wire() for m in rewrite.messages],
        )

    async def _response(
        self, body: GuardrailApiRequest, tenant: Tenant, request_id: str
    ) -> GuardrailApiResponse:
        texts = body.texts or []
        rows = body.structured_messages or []
        correction = await self._guard.correct(tenant, body.model, rows, texts, request_id)
        pairs = zip(texts, correction.answers, strict=True)
        final = [new if new is not None else old for old, new in pairs]
        if final == texts:
            return GuardrailApiResponse(action=GuardrailAction.NONE)
        return GuardrailApiResponse(action=GuardrailAction.GUARDRAIL_INTERVENED, texts=final)


def text_slots(message: ChatMessage) -> list[str]:
    """The texts a host extracts from one row: its string content, or each text part."""
    if isinstance(message.content, str):
        return [message.content]
    if message.content is None:
        return []
    return [str(part["text"]) for part in message.content if part.get("text") is not None]


def rewritten_texts(
    texts: list[str], rows: list[ChatMessage], rewritten: list[ChatMessage], changed: list[int]
) -> list[str]:
    """``texts`` with the rewritten rows' texts in place, keeping the input's length.

    The host maps texts back to rows by position, so the count must not change. When the
    texts are exactly the rows' text slots, each changed row's slots are replaced (the
    rewrite in the first, the others emptied, as the gateway rewrites a multi-part
    message); otherwise (the host left some rows out, e.g. system prompts) the last text
    equal to a changed row's old text is replaced.
    """
    slots = [text_slots(row) for row in rows]
    result = list(texts)
    if sum(len(s) for s in slots) == len(texts):
        start = 0
        for index, row_slots in enumerate(slots):
            if index in changed and row_slots:
                new = rewritten[index].text() or ""
                result[start : start + len(row_slots)] = [new] + [""] * (len(row_slots) - 1)
            start += len(row_slots)
        return result
    for index in changed:
        old, new = rows[index].text(), rewritten[index].text() or ""
        hits = [i for i, text in enumerate(result) if text == old]
        if hits:
            result[hits[-1]] = new
    return result
