"""Typed dataset rows shared by the builders and the trainer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.engines.base import ChatTurn


class PromptPair(BaseModel):
    """A user prompt and the optimized prompt a BPO model should write for it."""

    model_config = ConfigDict(frozen=True)

    prompt: str = Field(min_length=1)
    optimized_prompt: str = Field(min_length=1)


class PreferencePair(BaseModel):
    """A prompt with a preferred and a dispreferred answer (BPO construction input)."""

    model_config = ConfigDict(frozen=True)

    prompt: str = Field(min_length=1)
    good_res: str
    bad_res: str


class CorrectionTriple(BaseModel):
    """A question, an answer to it, and the corrected answer an Aligner should write."""

    model_config = ConfigDict(frozen=True)

    question: str = Field(min_length=1)
    answer: str
    correction: str = Field(min_length=1)
    source: str = Field(default="", description="Where the triple came from, for the mix report.")


class SFTExample(BaseModel):
    """One supervised example: the chat input and the assistant reply to learn (the loss)."""

    model_config = ConfigDict(frozen=True)

    messages: list[ChatTurn]
    target: str = Field(min_length=1)
