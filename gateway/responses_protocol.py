"""OpenAI wire models of the Responses API, ``POST /v1/responses``, as far as the gateway serves it.

The gateway is stateless and answers through the model's chat backend
(``responses_api.py`` translates), so it takes ``input`` as a string or as message
items, with ``instructions``, and gives back one assistant message item. What needs
state kept between calls (``store``, ``previous_response_id``, ``conversation``,
``background``) or a tool loop (``tools``) is refused with a 400 saying so, never
silently dropped.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from gateway.protocol import WireModel, reject_lone_surrogates


class InputPart(WireModel):
    """A content part of an input message: text (as sent or as an earlier answer) or an image."""

    type: Literal["input_text", "output_text", "input_image"]
    text: str | None = None
    image_url: str | None = None
    detail: str | None = None


class InputMessage(WireModel):
    """A message item of ``input``; other item types (tool calls and outputs) are not taken."""

    type: Literal["message"] = "message"
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[InputPart]


def stateful_field(data: dict[str, Any]) -> str | None:
    """The first field asking the gateway to keep or read state, or to run tools, if any."""
    if data.get("store"):
        return "store"
    for name in ("previous_response_id", "conversation", "background", "tools"):
        if data.get(name):
            return name
    return None


class ResponsesRequest(WireModel):
    """``POST /v1/responses`` body."""

    model: str = Field(min_length=1)
    input: str | list[InputMessage]
    instructions: str | None = None
    stream: bool = False
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    user: str | None = None
    text: dict[str, Any] | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _stateless_text(cls, data: Any) -> Any:
        reject_lone_surrogates(data)
        refused = stateful_field(data) if isinstance(data, dict) else None
        if refused == "tools":
            raise ValueError("'tools' is not supported on /v1/responses by this gateway")
        if refused is not None:
            raise ValueError(
                f"'{refused}' is not supported: this gateway keeps no responses or "
                "conversations; send the whole conversation as 'input' (and 'store': false)"
            )
        return data


class Complete(WireModel):
    """A wire model that always sends every field, as OpenAI does on this API."""

    def model_post_init(self, context: Any, /) -> None:
        """Mark every field as set, so ``exclude_unset`` keeps the defaults too."""
        self.model_fields_set.update(type(self).model_fields)


class OutputText(Complete):
    """A text part of the answer."""

    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = Field(default_factory=list)
    logprobs: list[Any] = Field(default_factory=list)


class OutputRefusal(Complete):
    """A refusal in place of structured output."""

    type: Literal["refusal"] = "refusal"
    refusal: str


class OutputMessage(Complete):
    """The answer's one output item: the assistant's message."""

    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    status: Literal["in_progress", "completed", "incomplete"] = "completed"
    content: list[OutputText | OutputRefusal] = Field(default_factory=list)


class InputTokensDetails(Complete):
    """Cached prompt tokens; the chat backend does not say, so none."""

    cached_tokens: int = 0


class OutputTokensDetails(Complete):
    """Reasoning tokens; the chat backend does not say, so none."""

    reasoning_tokens: int = 0


class ResponseUsage(Complete):
    """Token usage in the Responses API's names."""

    input_tokens: int = 0
    input_tokens_details: InputTokensDetails = Field(default_factory=InputTokensDetails)
    output_tokens: int = 0
    output_tokens_details: OutputTokensDetails = Field(default_factory=OutputTokensDetails)
    total_tokens: int = 0


class Response(Complete):
    """A response object: the answer, or (while streaming) the answer so far."""

    id: str
    object: Literal["response"] = "response"
    created_at: int
    model: str
    status: Literal["in_progress", "completed", "incomplete"] = "completed"
    error: None = None
    incomplete_details: dict[str, str] | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    output: list[OutputMessage] = Field(default_factory=list)
    parallel_tool_calls: bool = False
    temperature: float | None = None
    tool_choice: str = "auto"
    tools: list[Any] = Field(default_factory=list)
    top_p: float | None = None
    store: bool = False
    text: dict[str, Any] = Field(default_factory=lambda: {"format": {"type": "text"}})
    metadata: dict[str, str] = Field(default_factory=dict)
    usage: ResponseUsage | None = None
    user: str | None = None


class StreamEvent(WireModel):
    """One event of a streamed response; its ``type`` is also its SSE event name."""

    type: str
    sequence_number: int
