"""The BPO model's input formats: the released checkpoint's and our chat-template one."""

from __future__ import annotations

from gateway.engines.base import ChatTurn

RELEASED_MODEL = "THUDM/BPO"
INSTRUCTION = (
    "You are an expert prompt engineer. Please help me improve this prompt to get a more "
    "helpful and harmless response:"
)


def released_prompt(prompt: str) -> str:
    """The exact input THUDM/BPO was trained on; its output is the text after [/INST]."""
    return f"[INST] {INSTRUCTION}\n{prompt} [/INST]"


def chat_messages(prompt: str) -> list[ChatTurn]:
    """The input for models trained by ``training/``: one user turn, chat-templated."""
    return [ChatTurn(role="user", content=f"{INSTRUCTION}\n{prompt}")]
