"""OpenAI wire models of the legacy text route, ``POST /v1/completions``.

The gateway answers it through the model's chat backend (``completions_api.py``
translates), so only what a chat call can honour is accepted: a prompt as a string or
a list of strings; token-id prompts, ``echo``, ``suffix``, ``best_of`` and ``logprobs``
are refused with a 400 rather than silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gateway.protocol import ObjectModel, SampledRequest, Usage, WireModel


def unsupported_field(data: dict[str, Any]) -> str | None:
    """The first legacy field set to something a chat call cannot do, if any."""
    if data.get("echo") or data.get("suffix"):
        return "echo" if data.get("echo") else "suffix"
    if data.get("best_of") not in (None, 1):
        return "best_of"
    return "logprobs" if data.get("logprobs") is not None else None


class CompletionRequest(SampledRequest):
    """``POST /v1/completions`` body."""

    prompt: str | list[str] = Field(description="One prompt, or several answered separately.")

    @model_validator(mode="before")
    @classmethod
    def _text_only(cls, data: Any) -> Any:
        unsupported = unsupported_field(data) if isinstance(data, dict) else None
        if unsupported is not None:
            raise ValueError(f"'{unsupported}' is not supported on this route by this gateway")
        return data

    @field_validator("prompt")
    @classmethod
    def _some_prompt(cls, prompt: str | list[str]) -> str | list[str]:
        if isinstance(prompt, list) and not prompt:
            raise ValueError("at least one prompt is needed")
        return prompt

    def prompts(self) -> list[str]:
        """``prompt`` as a list."""
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class CompletionChoice(WireModel):
    """One choice of a text completion (or of one of its stream chunks)."""

    index: int = 0
    text: str = ""
    finish_reason: str | None = None
    logprobs: None = None

    def model_post_init(self, context: Any, /) -> None:
        """Always send every field, as OpenAI does (clients read them unconditionally)."""
        self.model_fields_set.update(type(self).model_fields)


class Completion(ObjectModel):
    """A text completion, or one chunk of a streamed one (the same object on this route)."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
