"""The Aligner model's input formats: the released checkpoint's and our chat-template one."""

from __future__ import annotations

from gateway.engines.base import ChatTurn

RELEASED_MODEL = "aligner/aligner-7b-v1.0"
INSTRUCTION = "Edit the following Question-Answer pair to make it more helpful and harmless:"


def released_prompt(question: str, answer: str) -> str:
    """The exact input aligner-7b-v1.0 was trained on; its output is the corrected answer."""
    return f"BEGINNING OF CONVERSATION: USER: {INSTRUCTION} {question} | {answer} ASSISTANT:"


def chat_messages(question: str, answer: str) -> list[ChatTurn]:
    """The input for models trained by ``training/``: one user turn, chat-templated."""
    return [ChatTurn(role="user", content=f"{INSTRUCTION}\nQuestion: {question}\nAnswer: {answer}")]
