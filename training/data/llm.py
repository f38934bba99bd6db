"""A chat LLM reached through litellm (critic, teacher, question writer or backend).

The client is the offline tools' one (``evaluation.llm_client``); here is the
endpoint's configuration as the data commands give it, and the rule those commands
rely on: an empty reply is an error, not an answer.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from evaluation.llm_client import ChatClient, ChatEndpoint, LlmError

LLMError = LlmError  # the LLM call failed or returned no text


class LLMEndpoint(ChatEndpoint):
    """Where an LLM is: a litellm model string, optional base URL and key variable."""

    model_config = ConfigDict(frozen=True)

    model: str = Field(description="litellm model string, e.g. 'openai/gpt-4o-mini'.")


class LLMClient(ChatClient):
    """Sends chat requests to one endpoint through litellm; an empty reply is an ``LLMError``."""

    def __init__(self, endpoint: LLMEndpoint) -> None:
        super().__init__(endpoint, require_text=True)
