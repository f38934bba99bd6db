"""What every answer to hostile input must be: no 5xx, no traceback, OpenAI's error JSON."""

from __future__ import annotations

import json
from typing import Protocol


class Answer(Protocol):
    """What both httpx's and schemathesis' (requests') responses offer."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...


def assert_no_crash(response: Answer, reproduce: str) -> None:
    """Below 500 and no traceback in the body; ``reproduce`` says how to send it again."""
    text = response.text
    assert response.status_code < 500, f"{response.status_code} for:\n{reproduce}\n{text[:500]}"
    assert "Traceback" not in text and 'File "' not in text, f"traceback leaked for:\n{reproduce}"


def assert_openai_error_shape(status: int, text: str, reproduce: str) -> None:
    """Exactly OpenAI's ``{"error": {"message", "type", "param", "code"}}``."""
    body = json.loads(text)
    where = f"{status} for:\n{reproduce}\n{text[:500]}"
    assert isinstance(body, dict) and set(body) == {"error"}, where
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, where
    assert isinstance(error["message"], str) and isinstance(error["type"], str), where
    assert error["param"] is None or isinstance(error["param"], str), where
    assert error["code"] is None or isinstance(error["code"], str), where
