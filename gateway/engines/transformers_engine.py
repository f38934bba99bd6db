"""The in-process engine: a transformers model on CPU with dynamic batching.

Concurrent callers submit requests to the kernel's ``MicroBatcher``, which collects
them for up to ``batch_wait_ms`` after the first (or ``max_batch_size`` requests);
each batch is split by sampling parameters and each part runs as one left-padded
``generate`` call in a thread, so the event loop never blocks. Streaming requests
join the same batches.

Loading is explicit: ``await engine.start()`` (or the blocking ``engine.load()``)
loads the model; ``generate`` and ``stream`` also load it on first use, and
``ready()`` is true once it is loaded.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.engines.base import EngineError, GenerationRequest, GenerationResult, StreamItem
from gateway.engines.batching import BatchRow, Sampling, generate_batch
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.loading import LoadedModel, load_model, prefer_passive_openmp
from gateway.microbatch import MicroBatcher, Waiter


@dataclass
class EngineStats:
    """Counters for tests and metrics: forward batches run and requests served."""

    batches: int = 0
    requests: int = 0


@dataclass(frozen=True)
class _Job:
    row: BatchRow
    sampling: Sampling


class TransformersEngine:
    """Runs a transformers model in-process, batching concurrent requests dynamically."""

    def __init__(self, config: TransformersEngineConfig | None = None) -> None:
        self.config = config or TransformersEngineConfig()
        self.stats = EngineStats()
        self._loaded: LoadedModel | None = None
        self._load_lock = threading.Lock()
        # One batch at a time on the model, even if callers come from several loops.
        self._model_lock = threading.Lock()
        self._batcher: MicroBatcher[_Job, GenerationResult] = MicroBatcher(
            self._run_batch,
            max_batch=self.config.max_batch_size,
            wait_s=self.config.batch_wait_ms / 1000,
            partition=lambda job: job.sampling,
        )
        self._closed = False

    @property
    def adapter_names(self) -> tuple[str, ...]:
        """Names of the LoRA adapters a request may select."""
        return tuple(self.config.adapters)

    def load(self) -> None:
        """Load the model and adapters now (blocking; idempotent)."""
        with self._load_lock:
            if self._loaded is not None:
                return
            prefer_passive_openmp()
            import torch

            torch.set_num_threads(self.config.threads or os.cpu_count() or 1)
            cache_dir = Path(self.config.cache_dir) if self.config.cache_dir else None
            self._loaded = load_model(
                self.config.model, self.config.adapters, self.config.device, cache_dir
            )

    async def start(self) -> None:
        """Load the model in a thread without blocking the event loop."""
        self._check_open()
        if self._loaded is None:
            await asyncio.to_thread(self.load)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Generate one result per request; concurrent calls share forward batches."""
        await self.start()
        rows = [self._row(request) for request in requests]  # validate all before queueing any
        futures = [self._enqueue(row, _sampling(r)) for row, r in zip(rows, requests, strict=True)]
        return list(await asyncio.gather(*futures))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        """Yield the text of one request as it is generated (batched with other requests),
        then its result with the token counts."""
        await self.start()
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        abandoned = threading.Event()

        def on_text(piece: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        row = self._row(request, on_text=on_text, is_cancelled=abandoned.is_set)
        future = self._enqueue(row, _sampling(request))
        # Resolved on the loop after every piece the thread scheduled, so it comes last.
        future.add_done_callback(lambda _: pieces.put_nowait(None))
        try:
            while (piece := await pieces.get()) is not None:
                yield piece
            yield future.result()
        finally:
            abandoned.set()

    async def ready(self) -> bool:
        """True once the model is loaded and the engine is not closed."""
        return self._loaded is not None and not self._closed

    async def aclose(self) -> None:
        """Stop the batch worker, fail queued requests and release the model."""
        self._closed = True
        self._batcher.close(EngineError("engine closed"))
        self._loaded = None

    def _check_open(self) -> None:
        if self._closed:
            raise EngineError("engine is closed")

    def _row(
        self,
        request: GenerationRequest,
        on_text: Callable[[str], None] | None = None,
        is_cancelled: Callable[[], bool] | None = None,
    ) -> BatchRow:
        if request.adapter is not None and request.adapter not in self.config.adapters:
            raise EngineError(f"unknown adapter {request.adapter!r}")
        return BatchRow(
            input_ids=self._encode(request),
            max_tokens=request.max_tokens,
            stop=list(request.stop),
            adapter=request.adapter,
            on_text=on_text,
            is_cancelled=is_cancelled,
        )

    def _enqueue(self, row: BatchRow, sampling: Sampling) -> asyncio.Future[GenerationResult]:
        future = self._batcher.submit(_Job(row, sampling))
        if row.is_cancelled is None:
            # A caller that gave up (timeout, disconnect) frees its row mid-batch; the
            # worker thread only reads the future's state.
            row.is_cancelled = future.cancelled
        return future

    def _encode(self, request: GenerationRequest) -> list[int]:
        loaded = self._require_loaded()
        tokenizer = loaded.tokenizer
        if request.messages is None:
            return list(tokenizer(request.prompt)["input_ids"])
        if not tokenizer.chat_template:
            raise EngineError(f"model {self.config.model!r} has no chat template")
        text = tokenizer.apply_chat_template(
            [turn.model_dump() for turn in request.messages],
            add_generation_prompt=True,
            tokenize=False,
        )
        # The template already holds the special tokens (BOS and role markers).
        return list(tokenizer(str(text), add_special_tokens=False)["input_ids"])

    def _require_loaded(self) -> LoadedModel:
        if self._loaded is None:
            raise EngineError("model is not loaded")
        return self._loaded

    async def _run_batch(
        self, waiters: list[Waiter[_Job, GenerationResult]]
    ) -> list[GenerationResult]:
        """One forward batch of rows that share their sampling (the batcher's partition)."""
        self.stats.batches += 1
        self.stats.requests += len(waiters)
        rows, sampling = [w.item.row for w in waiters], waiters[0].item.sampling
        try:
            return await asyncio.to_thread(self._generate_locked, rows, sampling)
        except EngineError:
            raise
        except Exception as error:  # every failure reaches the callers as an EngineError
            raise EngineError(str(error)) from error

    def _generate_locked(self, rows: list[BatchRow], sampling: Sampling) -> list[GenerationResult]:
        with self._model_lock:
            return generate_batch(self._require_loaded(), rows, sampling)


def _sampling(request: GenerationRequest) -> Sampling:
    if request.temperature == 0.0:
        return Sampling()
    return Sampling(temperature=request.temperature, top_p=request.top_p)
