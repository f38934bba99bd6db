"""Forwarded paths get their allow-list names; chat completions is never a pass-through."""

from __future__ import annotations

import pytest

from gateway.forwarding import route_name


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("POST", "chat/completions", "chat"),
        ("GET", "chat/completions", "stored_chat_completions"),
        ("GET", "chat/completions/abc", "stored_chat_completions"),
        ("POST", "chat/completions/abc", "stored_chat_completions"),
        ("POST", "responses", "responses"),
        ("GET", "responses/abc", "stored_responses"),
        ("GET", "models/gpt", "models"),
        ("DELETE", "models/ft-1", "fine_tuning"),
    ],
)
def test_each_path_gets_its_route_name(method: str, path: str, name: str) -> None:
    assert route_name(method, tuple(path.split("/"))) == name
