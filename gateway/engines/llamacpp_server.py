"""The blocking half of the llama.cpp engine: the in-process server and one streamed call.

``xllamacpp.Server`` runs llama.cpp's HTTP server logic without a socket: its slots
decode every running request together in one batch (continuous batching), and each
``handle_*`` call blocks its thread until its request is done, handing every chunk
of the OpenAI-style stream to a callback. A callback that returns True ends the
stream, and llama.cpp then cancels the request and frees its slot, which is how
a caller's cancellation reaches the decoder. Every call here is streamed for that
reason, even when the caller wants the whole text at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gateway.engines.base import EngineError, GenerationRequest, GenerationResult

_GAUGE = re.compile(r"^llamacpp:(\w+) ([0-9.eE+-]+)$", re.MULTILINE)


@dataclass(frozen=True)
class ServerSettings:
    """What the llama.cpp server is started with (already resolved to files)."""

    model: Path
    adapters: Sequence[Path]
    parallel: int
    context_tokens: int
    threads: int
    batch_threads: int
    cache_type: str = "f16"


def import_xllamacpp(what: str) -> Any:
    """The ``xllamacpp`` module, or an error saying ``what`` needs it and how to install it."""
    try:
        import xllamacpp
    except ImportError as error:
        raise EngineError(
            f"{what} needs the 'xllamacpp' package (pip install aligngate[llamacpp])"
        ) from error
    return xllamacpp


def open_server(params: Any, what: str) -> Any:
    """A new in-process llama.cpp server on ``params``, quiet and ready to be released.

    Every server here is started this way: its threads never busy-poll (they would take
    cores other requests' work needs), llama.cpp's own log lines (~6 a request, slot
    timings) stay out of the gateway's JSON log (its numbers are on its metrics), and
    one call goes through its loop before it is handed out: a server released before
    its loop had run hung in its destructor for good (1 start of 2 in a loop of starts
    and closes; 15 of 15 closed after one call).
    """
    xllamacpp = import_xllamacpp(what)
    params.cpuparams.poll = params.cpuparams_batch.poll = 0
    params.verbosity = 0
    params.endpoint_metrics = True
    try:
        server = xllamacpp.Server(params)
    except RuntimeError as error:
        raise EngineError(f"llama.cpp could not load {what} {params.model.path}: {error}") from None
    server.handle_metrics()
    return server


def start_server(settings: ServerSettings) -> Any:
    """Load the model and adapters into a new in-process llama.cpp server (blocking)."""
    xllamacpp = import_xllamacpp("the llamacpp engine")
    params = xllamacpp.CommonParams()
    params.model.path = str(settings.model)
    params.n_parallel = settings.parallel
    # One cache for all slots: a request may use all of it, and memory is what the
    # config says, not slots x context.
    params.n_ctx = settings.context_tokens
    params.kv_unified = True
    if settings.cache_type == "q8_0":
        params.cache_type_k = params.cache_type_v = xllamacpp.ggml_type.GGML_TYPE_Q8_0
        # llama.cpp quantises the V cache only inside flash attention.
        params.flash_attn_type = xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED
    params.cpuparams.n_threads = settings.threads
    # llama.cpp computes a one-token step with the first, anything wider (prompts, and
    # several slots decoding together) with the second.
    params.cpuparams_batch.n_threads = settings.batch_threads
    params.use_jinja = True  # the model's own chat template, as transformers renders it
    params.lora_adapters = [
        xllamacpp.CommonAdapterLoraInfo(str(path), 0.0) for path in settings.adapters
    ]
    # Adapters are loaded but off; each request switches on the one it names.
    params.lora_init_without_apply = True
    return open_server(params, "the model")


def server_gauges(server: Any) -> dict[str, float]:
    """llama.cpp's own metrics (``requests_processing``, ``n_decode_total``...) by name."""
    text = server.handle_metrics()
    if isinstance(text, bytes):
        text = text.decode()
    return {name: float(value) for name, value in _GAUGE.findall(str(text))}


def request_body(
    request: GenerationRequest, adapter_id: int | None, adapter_count: int
) -> dict[str, Any]:
    """The OpenAI-style JSON body llama.cpp gets for one request."""
    body: dict[str, Any] = {
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        # OpenAI's sampling has none of llama.cpp's extra filters (top-k 40, min-p 0.05).
        "top_k": 0,
        "min_p": 0.0,
        "repeat_penalty": 1.0,
        "stop": list(request.stop),
        "stream": True,
        "stream_options": {"include_usage": True},
        # Every adapter named with its scale, so none is left on from the server default.
        "lora": [
            {"id": index, "scale": 1.0 if index == adapter_id else 0.0}
            for index in range(adapter_count)
        ],
    }
    if request.messages is not None:
        body["messages"] = [turn.model_dump() for turn in request.messages]
    else:
        body["prompt"] = request.prompt
    return body


# Chat-template tokens around one message (and around the default system prompt), at most.
_TEMPLATE_TOKENS = 64


def token_bound(body: dict[str, Any]) -> int:
    """At most how many KV-cache tokens a request holds: a token covers a byte or more."""
    if "messages" in body:
        turns = body["messages"]
        text = sum(len(str(turn.get("content") or "").encode()) for turn in turns)
        text += _TEMPLATE_TOKENS * (len(turns) + 1)
    else:
        text = len(str(body.get("prompt") or "").encode())
    return text + int(body.get("max_tokens") or 0)


@dataclass
class StreamedCall:
    """One request streamed through the server, collecting its text and counts.

    ``on_text`` is called from the calling thread with each new piece;
    ``is_cancelled`` is asked after every chunk and ends the request when true.
    """

    body: dict[str, Any]
    on_text: Callable[[str], None] | None = None
    is_cancelled: Callable[[], bool] = lambda: False
    pieces: list[str] = field(default_factory=list)
    finish_reason: Literal["stop", "length"] = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    cancelled: bool = False

    def run(self, server: Any) -> GenerationResult:
        """Send the request and block until it is finished, failed or cancelled."""
        if self.is_cancelled():  # given up while it waited for a thread
            self.cancelled = True
            return GenerationResult(text="", finish_reason="stop")
        if "messages" in self.body:
            server.handle_chat_completions(self.body, self._on_chunk)
        else:
            server.handle_completions(self.body, self._on_chunk)
        if self.error is not None:
            raise EngineError(f"llama.cpp: {self.error}")
        return GenerationResult(
            text="".join(self.pieces),
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            finish_reason=self.finish_reason,
        )

    def _on_chunk(self, chunk: dict[str, Any]) -> bool:
        """Take one chunk; True stops the stream (and so the request)."""
        # Never raise: the binding would swallow it and stop without telling us.
        try:
            self._take(chunk)
        except Exception as error:  # a malformed chunk fails this request only
            self.error = f"unreadable chunk: {error!r}"
            return True
        if self.error is None and self.is_cancelled():
            self.cancelled = True
        return self.error is not None or self.cancelled

    def _take(self, chunk: dict[str, Any]) -> None:
        if "error" in chunk:
            error = chunk["error"]
            self.error = str(error.get("message", error) if isinstance(error, dict) else error)
            return
        usage = chunk.get("usage")
        if usage:
            self.prompt_tokens = int(usage.get("prompt_tokens", 0))
            self.completion_tokens = int(usage.get("completion_tokens", 0))
        for choice in chunk.get("choices") or []:
            text = choice.get("text")
            if text is None:
                text = (choice.get("delta") or {}).get("content")
            if text:
                self.pieces.append(text)
                if self.on_text is not None:
                    self.on_text(text)
            if choice.get("finish_reason") == "length":
                self.finish_reason = "length"
