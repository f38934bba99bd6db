"""A real OpenAI-compatible chat server on loopback whose replies a test scripts per model."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request

# model name -> function from the last user message to the reply
Reply = Callable[[str], str]


@dataclass
class ScriptedLLM:
    """Replies by model name and records every request it received."""

    replies: dict[str, Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        """The ASGI app serving ``POST /v1/chat/completions``."""
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> dict[str, Any]:
            body = await request.json()
            self.requests.append(body)
            last_user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
            text = self.replies[body["model"]](last_user)
            return {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }

        return app
