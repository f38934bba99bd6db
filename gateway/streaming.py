"""Buffering a backend stream so a post-call stage can replace the answer before it leaves.

The buffer is bounded (``max_buffered_answer_bytes``) and holds each original chunk as
the SSE bytes it will be replayed as, not as parsed objects, which take ten times the
memory. Text is gathered in pieces and joined once: ``+=`` on a growing string is
quadratic, and a long stream of small chunks would hold the event loop.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from gateway.answers import calls_tools, kept_fields
from gateway.errors import BackendError
from gateway.protocol import ChatCompletionChunk, ChunkChoice, DeltaMessage, Usage
from gateway.sse import decode_event, encode_event

# Re-streamed text goes out in word-sized pieces so clients render it as they would a live stream.
_PIECES = re.compile(r"\S+\s*|\s+")


@dataclass
class BufferedChoice:
    """Everything the backend streamed for one choice index."""

    index: int
    pieces: list[str] = field(default_factory=list)
    has_tool_calls: bool = False
    finish_reason: str | None = None
    # The original chunks of this choice, as SSE events ready to replay unchanged.
    events: list[bytes] = field(default_factory=list)
    # The tool-call deltas alone, replayed beside a correction.
    tool_deltas: list[DeltaMessage] = field(default_factory=list)

    @property
    def content(self) -> str:
        """The choice's whole text."""
        return "".join(self.pieces)


@dataclass
class BufferedStream:
    """A whole backend stream, collected, up to ``max_bytes`` of SSE events."""

    max_bytes: int
    id: str = ""
    created: int = 0
    model: str = ""
    choices: dict[int, BufferedChoice] = field(default_factory=dict)
    usage: Usage | None = None
    size: int = 0

    def add(self, chunk: ChatCompletionChunk) -> None:
        """Fold one chunk into the buffer; 502 once the buffer is over its cap."""
        self.id, self.created, self.model = chunk.id, chunk.created, chunk.model
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            buffered = self.choices.setdefault(choice.index, BufferedChoice(index=choice.index))
            buffered.pieces.append(choice.delta.content or "")
            if calls_tools(choice.delta):
                buffered.has_tool_calls = True
                buffered.tool_deltas.append(DeltaMessage(**kept_fields(choice.delta)))
            buffered.finish_reason = choice.finish_reason or buffered.finish_reason
            event = encode_event(chunk.model_copy(update={"choices": [choice], "usage": None}))
            buffered.events.append(event)
            self.size += len(event)
        if self.size > self.max_bytes:
            # Refused whatever the failure policy: letting an answer through unaligned
            # because it is long would let any client skip the Aligner by asking for length.
            raise BackendError(
                f"the backend's answer is over the gateway's limit of {self.max_bytes} bytes "
                "for an answer that must be checked before it is sent",
                code="answer_too_large",
            )


async def collect(chunks: AsyncIterator[ChatCompletionChunk], max_bytes: int) -> BufferedStream:
    """Read a backend stream to its end, or until it is over ``max_bytes``."""
    buffered = BufferedStream(max_bytes=max_bytes)
    async for chunk in chunks:
        buffered.add(chunk)
    return buffered


def replay(
    buffered: BufferedStream,
    final_contents: dict[int, str | None],
    refusals: set[int] | None = None,
) -> Iterator[ChatCompletionChunk]:
    """The chunks the client gets: original ones where a choice is unchanged, else new text.

    A replaced choice is built afresh, so none of its original chunks' logprobs,
    reasoning deltas or other extras go out; only its tool calls are replayed. The
    usage comes last, when the backend sent one; the route decides whether it goes out.
    """
    for index in sorted(buffered.choices):
        choice = buffered.choices[index]
        content = final_contents.get(index)
        if content is None or content == choice.content:
            yield from (_decoded(event) for event in choice.events)
        else:
            refused = index in (refusals or set())
            yield from _synthesize(buffered, choice, content, refused)
    if buffered.usage is not None:
        yield _chunk(buffered, [], usage=buffered.usage)


def _decoded(event: bytes) -> ChatCompletionChunk:
    """A buffered SSE event back as the chunk it was encoded from."""
    return ChatCompletionChunk.model_validate_json(decode_event(event))


def _synthesize(
    buffered: BufferedStream, choice: BufferedChoice, content: str, refused: bool = False
) -> Iterator[ChatCompletionChunk]:
    yield _chunk(buffered, [ChunkChoice(index=choice.index, delta=DeltaMessage(role="assistant"))])
    for piece in _PIECES.findall(content):
        # A refusal to a structured-output request streams as OpenAI's ``delta.refusal``.
        delta = DeltaMessage(refusal=piece) if refused else DeltaMessage(content=piece)
        yield _chunk(buffered, [ChunkChoice(index=choice.index, delta=delta)])
    for delta in choice.tool_deltas:
        yield _chunk(buffered, [ChunkChoice(index=choice.index, delta=delta)])
    finish = ChunkChoice(
        index=choice.index, delta=DeltaMessage(), finish_reason=choice.finish_reason or "stop"
    )
    yield _chunk(buffered, [finish])


def _chunk(
    buffered: BufferedStream, choices: list[ChunkChoice], usage: Usage | None = None
) -> ChatCompletionChunk:
    chunk = ChatCompletionChunk(
        id=buffered.id, created=buffered.created, model=buffered.model, choices=choices
    )
    if usage is not None:
        chunk.usage = usage
    return chunk
