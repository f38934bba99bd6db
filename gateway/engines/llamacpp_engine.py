"""The in-process llama.cpp engine: a GGUF model with LoRA adapters chosen per request.

llama.cpp batches by itself: each request takes one of ``parallel`` slots and every
busy slot advances by one token per decode step (requests with different adapters
take alternate steps). So each request here is simply one blocking streamed call on
a worker thread of the engine's own pool, sized so every slot can be busy at once;
requests beyond that wait in the pool's queue. The PEFT adapters are converted once
into GGUF LoRA adapters in the user's cache (gateway/engines/lora_gguf.py).

Loading is explicit, as for the transformers engine: ``await engine.start()`` or the
blocking ``engine.load()``; ``generate`` and ``stream`` load on first use.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.engines.base import EngineError, GenerationRequest, GenerationResult, StreamItem
from gateway.engines.config import LlamaCppEngineConfig
from gateway.engines.llamacpp_server import (
    ServerSettings,
    StreamedCall,
    request_body,
    server_gauges,
    start_server,
    token_bound,
)
from gateway.engines.loading import default_cache_dir, resolve_model_reference
from gateway.engines.lora_gguf import BaseModelShape, cached_gguf_adapter
from gateway.engines.token_budget import TokenBudget


@dataclass
class LlamaCppStats:
    """Counters for tests and metrics: requests started, and those ended by cancellation."""

    requests: int = 0
    cancelled: int = 0


class LlamaCppEngine:
    """Runs a GGUF model in an in-process llama.cpp server; its slots batch requests."""

    def __init__(self, config: LlamaCppEngineConfig | None = None) -> None:
        self.config = config or LlamaCppEngineConfig()
        self.stats = LlamaCppStats()
        self._server: Any = None
        self._adapter_ids = {name: index for index, name in enumerate(self.config.adapters)}
        self._load_lock = threading.Lock()
        # A request holds a thread for as long as it runs, so every slot needs one.
        self._pool = ThreadPoolExecutor(
            max_workers=self.config.parallel, thread_name_prefix="llamacpp"
        )
        self._running: set[threading.Event] = set()
        self._budget = TokenBudget(self.config.context_tokens)
        self._closed = False

    @property
    def adapter_names(self) -> tuple[str, ...]:
        """Names of the LoRA adapters a request may select."""
        return tuple(self.config.adapters)

    def load(self) -> None:
        """Convert the adapters if needed, then load the model (blocking; idempotent)."""
        with self._load_lock:
            if self._server is not None:
                return
            self._check_open()
            self._server = start_server(self.server_settings())

    async def start(self) -> None:
        """Load the model in a thread without blocking the event loop."""
        self._check_open()
        if self._server is None:
            await asyncio.to_thread(self.load)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Generate one result per request; concurrent requests share llama.cpp's batches."""
        await self.start()
        bodies = [self._body(request) for request in requests]  # validate all first
        return list(await asyncio.gather(*(self._run(StreamedCall(body)) for body in bodies)))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        """Yield the text of one request as llama.cpp generates it, then its result."""
        await self.start()
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()

        def on_text(piece: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        call = StreamedCall(self._body(request), on_text=on_text)
        task = asyncio.ensure_future(self._run(call))
        # Resolved on the loop after every piece the thread scheduled, so it comes last.
        task.add_done_callback(lambda _: pieces.put_nowait(None))
        try:
            while (piece := await pieces.get()) is not None:
                yield piece
            yield task.result()
        finally:
            # A consumer that stops early (disconnect, timeout) cancels the request.
            task.cancel()

    async def ready(self) -> bool:
        """True once the model is loaded and the engine is not closed."""
        return self._server is not None and not self._closed

    def gauges(self) -> dict[str, float]:
        """llama.cpp's own metrics, e.g. ``requests_processing`` (busy slots)."""
        if self._server is None:
            raise EngineError("model is not loaded")
        return server_gauges(self._server)

    async def aclose(self) -> None:
        """Cancel running requests, wait for their threads, then release the model."""
        self._closed = True
        for cancel in list(self._running):
            cancel.set()
        await asyncio.to_thread(self._pool.shutdown, True, cancel_futures=True)
        # The server's destructor stops llama.cpp's loop and frees the model.
        self._server = None

    def _check_open(self) -> None:
        if self._closed:
            raise EngineError("engine is closed")

    def server_settings(self) -> ServerSettings:
        """What the llama.cpp server is started with: files resolved, adapters converted."""
        directory, gguf_file = resolve_model_reference(self.config.model)
        if gguf_file is None:
            raise EngineError(
                f"the llamacpp engine needs a .gguf model, not the directory {directory}"
            )
        model = directory / gguf_file
        cache_dir = Path(self.config.cache_dir) if self.config.cache_dir else default_cache_dir()
        adapters: list[Path] = []
        if self.config.adapters:
            shape = BaseModelShape.of_gguf(model)
            adapters = [
                cached_gguf_adapter(Path(path).expanduser(), shape, cache_dir)
                for path in self.config.adapters.values()
            ]
        return ServerSettings(
            model=model,
            adapters=adapters,
            parallel=self.config.parallel,
            context_tokens=self.config.context_tokens,
            threads=self.config.threads,
            batch_threads=self.config.batch_threads or len(os.sched_getaffinity(0)),
            cache_type=self.config.cache_type,
        )

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        if request.adapter is not None and request.adapter not in self._adapter_ids:
            raise EngineError(f"unknown adapter {request.adapter!r}")
        adapter_id = None if request.adapter is None else self._adapter_ids[request.adapter]
        return request_body(request, adapter_id, len(self._adapter_ids))

    async def _run(self, call: StreamedCall) -> GenerationResult:
        """Run one call on the pool; a cancelled caller ends it at its next token."""
        self._check_open()
        server = self._server
        if server is None:
            raise EngineError("model is not loaded")
        cancel = threading.Event()
        call.is_cancelled = cancel.is_set
        self._running.add(cancel)
        self.stats.requests += 1
        loop = asyncio.get_running_loop()
        try:
            # Together the running requests may not outgrow the shared KV cache; the
            # tokens are the request's until its thread is done with the cache.
            tokens = await self._budget.acquire(token_bound(call.body))
            future = loop.run_in_executor(self._pool, _blocking(call, server))
            future.add_done_callback(lambda _: self._budget.release(tokens))
            # Shielded: the caller's cancellation must not wait for the thread, which
            # sees the event and ends the request at its next chunk.
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()
            self.stats.cancelled += 1
            raise
        finally:
            self._running.discard(cancel)
        if call.cancelled:  # only ``aclose`` cancels a call whose caller still waits
            raise EngineError("engine closed")
        return result


def _blocking(call: StreamedCall, server: Any) -> Callable[[], GenerationResult]:
    return lambda: call.run(server)
