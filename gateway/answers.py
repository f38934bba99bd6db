"""What of a backend's answer survives when a post-call stage replaces its text.

A corrected choice is rebuilt from an allow-list, not cleaned of a deny-list: besides
``content``, providers send fields that spell out the original (``logprobs``,
``reasoning_content``, ``reasoning``, an audio transcript, annotations, content-filter
notes), and new ones appear all the time. Only the tool calls stay: they are the
answer's actions, which the Aligner does not see or check (it corrects text only), and
dropping them would break the client's tool loop. Their arguments pass unchecked.
"""

from __future__ import annotations

from typing import Any

from gateway.protocol import ChatMessage, Choice, DeltaMessage

# Message and delta fields kept beside a correction; ``function_call`` is the old tool call.
KEPT_BESIDE_CORRECTION = ("tool_calls", "function_call")


def calls_tools(message: ChatMessage | DeltaMessage) -> bool:
    """Whether a message or delta carries tool calls (new or old style)."""
    return bool(message.tool_calls) or bool((message.model_extra or {}).get("function_call"))


def kept_fields(message: ChatMessage | DeltaMessage) -> dict[str, Any]:
    """The fields of ``message`` that stay beside a correction, as they came."""
    fields = message.model_dump(exclude_unset=True, include=set(KEPT_BESIDE_CORRECTION))
    return {key: value for key, value in fields.items() if value is not None}


def corrected_choice(choice: Choice, content: str, as_refusal: bool = False) -> Choice:
    """``choice`` with ``content`` as its text and nothing else of the original but tool calls.

    ``as_refusal`` puts the text where structured-output refusals go (``message.refusal``,
    no content): a client that asked for JSON then reads a refusal, not broken JSON.
    """
    kept = kept_fields(choice.message)
    if as_refusal:
        message = ChatMessage(role=choice.message.role, content=None, refusal=content, **kept)
    else:
        message = ChatMessage(role=choice.message.role, content=content, **kept)
    return Choice(index=choice.index, message=message, finish_reason=choice.finish_reason)
