"""Server-sent events as OpenAI streams them: ``data: {json}`` lines, ending in ``[DONE]``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

DONE = b"data: [DONE]\n\n"


def encode_event(payload: BaseModel | dict[str, Any]) -> bytes:
    """One SSE ``data:`` event for a chunk or an error object."""
    if isinstance(payload, BaseModel):
        text = payload.model_dump_json(exclude_unset=True)
    else:
        text = json.dumps(payload, separators=(",", ":"))
    return b"data: " + text.encode() + b"\n\n"


class StreamTruncated(Exception):
    """The stream ended without its closing ``[DONE]``: the answer may be cut off."""


async def iter_data(lines: AsyncIterator[str], require_done: bool = False) -> AsyncIterator[str]:
    """Yield the payload of each ``data:`` line until ``[DONE]``; skip comments and blanks."""
    async for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        if data:
            yield data
    if require_done:
        raise StreamTruncated("the stream ended before [DONE]")
