"""What the rewriting stages share: the prompt format, the request, the last user message."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.config import StageConfig
from gateway.engines.base import ChatTurn, GenerationRequest, GenerationResult
from gateway.pipeline.stage import StageMessage


def uses_released_format(config: StageConfig, released_model: str) -> bool:
    """Released checkpoints expect their own raw prompt; our models use their chat template."""
    if config.prompt_format == "auto":
        return config.model == released_model
    return config.prompt_format == "released"


def generation_request(
    config: StageConfig, *, prompt: str | None = None, messages: list[ChatTurn] | None = None
) -> GenerationRequest:
    """A request with the stage's adapter and decoding settings."""
    return GenerationRequest(
        prompt=prompt,
        messages=messages,
        adapter=config.adapter,
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
    )


def last_user_index(roles: list[str]) -> int | None:
    """Index of the last user message, which is the one the stages work on."""
    for index in range(len(roles) - 1, -1, -1):
        if roles[index] == "user":
            return index
    return None


def last_user_text(messages: Sequence[StageMessage]) -> str:
    """The last user message's text ("" when there is none)."""
    users = [m.content for m in messages if m.role == "user" and m.content]
    return users[-1] if users else ""


def with_last_user_text(messages: list[StageMessage], text: str) -> list[StageMessage]:
    """``messages`` with the last user message's content replaced by ``text``."""
    index = last_user_index([m.role for m in messages])
    if index is None:
        return messages
    updated = list(messages)
    updated[index] = messages[index].model_copy(update={"content": text})
    return updated


def token_detail(result: GenerationResult) -> dict[str, object]:
    """Token counts for the trace, which the metrics add up per stage."""
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens}
