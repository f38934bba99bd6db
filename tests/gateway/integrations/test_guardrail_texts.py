"""The texts a Generic Guardrail API answer returns keep the host's count and order."""

from __future__ import annotations

from gateway.integrations.guardrail_api import rewritten_texts
from gateway.protocol import ChatMessage


def _user(content: object) -> ChatMessage:
    return ChatMessage.model_validate({"role": "user", "content": content})


def test_a_multi_part_message_gets_the_rewrite_in_its_first_text_slot() -> None:
    parts = [{"type": "text", "text": "Look"}, {"type": "image_url"}, {"type": "text", "text": "!"}]
    rows = [ChatMessage(role="system", content="Be brief."), _user(parts)]
    rewritten = [rows[0], _user([{"type": "text", "text": "Look at this image, please."}])]
    texts = rewritten_texts(["Be brief.", "Look", "!"], rows, rewritten, [1])
    assert texts == ["Be brief.", "Look at this image, please.", ""]


def test_when_the_host_left_rows_out_the_old_text_is_found_and_replaced() -> None:
    rows = [ChatMessage(role="system", content="Hi"), _user("Hi"), _user("Why?")]
    rewritten = [rows[0], rows[1], _user("Why is that so?")]
    # The host skipped the system row, so the texts are not the rows' slots.
    assert rewritten_texts(["Hi", "Why?"], rows, rewritten, [2]) == ["Hi", "Why is that so?"]
