"""The in-process engine: a transformers model on CPU with dynamic batching.

Concurrent callers put requests on a queue; one worker task per event loop
collects them for up to ``batch_wait_ms`` (or ``max_batch_size`` requests),
groups them by sampling parameters and runs each group as one left-padded
``generate`` call in a thread, so the event loop never blocks. Streaming
requests join the same batches.

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

from gateway.engines.base import EngineError, GenerationRequest, GenerationResult
from gateway.engines.batching import BatchRow, Sampling, generate_batch
from gateway.engines.config import TransformersEngineConfig
from gateway.engines.loading import LoadedModel, load_model, prefer_passive_openmp


@dataclass
class EngineStats:
    """Counters for tests and metrics: forward batches run and requests served."""

    batches: int = 0
    requests: int = 0


@dataclass
class _Job:
    row: BatchRow
    sampling: Sampling
    future: asyncio.Future[GenerationResult]


class TransformersEngine:
    """Runs a transformers model in-process, batching concurrent requests dynamically."""

    def __init__(self, config: TransformersEngineConfig | None = None) -> None:
        self.config = config or TransformersEngineConfig()
        self.stats = EngineStats()
        self._loaded: LoadedModel | None = None
        self._load_lock = threading.Lock()
        # One batch at a time on the model, even if callers come from several loops.
        self._model_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task[None] | None = None
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
        jobs = [self._enqueue(row, _sampling(r)) for row, r in zip(rows, requests, strict=True)]
        return list(await asyncio.gather(*(job.future for job in jobs)))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Yield the text of one request as it is generated (batched with other requests)."""
        await self.start()
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        abandoned = threading.Event()

        def on_text(piece: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        row = self._row(request, on_text=on_text, is_cancelled=abandoned.is_set)
        job = self._enqueue(row, _sampling(request))
        # Resolved on the loop after every piece the thread scheduled, so it comes last.
        job.future.add_done_callback(lambda _: pieces.put_nowait(None))
        try:
            while (piece := await pieces.get()) is not None:
                yield piece
            job.future.result()
        finally:
            abandoned.set()

    async def ready(self) -> bool:
        """True once the model is loaded and the engine is not closed."""
        return self._loaded is not None and not self._closed

    async def aclose(self) -> None:
        """Stop the batch worker, fail queued requests and release the model."""
        self._closed = True
        if self._worker is not None and self._worker.get_loop() is _running_loop():
            self._worker.cancel()
        if self._queue is not None and self._loop is _running_loop():
            while not self._queue.empty():
                job = self._queue.get_nowait()
                if not job.future.done():
                    job.future.set_exception(EngineError("engine closed"))
        self._worker = self._queue = self._loop = None
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

    def _enqueue(self, row: BatchRow, sampling: Sampling) -> _Job:
        future: asyncio.Future[GenerationResult] = asyncio.get_running_loop().create_future()
        if row.is_cancelled is None:
            # A caller that gave up (timeout, disconnect) frees its row mid-batch; the
            # worker thread only reads the future's state.
            row.is_cancelled = future.cancelled
        job = _Job(row, sampling, future)
        self._ensure_worker().put_nowait(job)
        return job

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

    def _ensure_worker(self) -> asyncio.Queue[_Job]:
        # One worker per event loop: tests (and TestClient) may use a fresh loop each time.
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            self._loop, self._queue = loop, asyncio.Queue()
            self._worker = None
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run(self._queue))
        return self._queue

    async def _run(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            jobs = await self._collect(queue)
            groups: dict[Sampling, list[_Job]] = {}
            for job in jobs:
                groups.setdefault(job.sampling, []).append(job)
            for sampling, group in groups.items():
                await self._run_batch(sampling, group)

    async def _collect(self, queue: asyncio.Queue[_Job]) -> list[_Job]:
        jobs = [await queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.batch_wait_ms / 1000
        while len(jobs) < self.config.max_batch_size:
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    jobs.append(queue.get_nowait())
                else:
                    jobs.append(await asyncio.wait_for(queue.get(), remaining))
            except (asyncio.QueueEmpty, TimeoutError):
                break
        return jobs

    async def _run_batch(self, sampling: Sampling, group: list[_Job]) -> None:
        live = [job for job in group if not job.future.done()]
        if not live:
            return
        self.stats.batches += 1
        self.stats.requests += len(live)
        try:
            results = await asyncio.to_thread(
                self._generate_locked, [j.row for j in live], sampling
            )
        except Exception as error:  # every failure reaches the callers as an EngineError
            failure = error if isinstance(error, EngineError) else EngineError(str(error))
            for job in live:
                if not job.future.done():
                    job.future.set_exception(failure)
            return
        for job, result in zip(live, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

    def _generate_locked(self, rows: list[BatchRow], sampling: Sampling) -> list[GenerationResult]:
        with self._model_lock:
            return generate_batch(self._require_loaded(), rows, sampling)


def _sampling(request: GenerationRequest) -> Sampling:
    if request.temperature == 0.0:
        return Sampling()
    return Sampling(temperature=request.temperature, top_p=request.top_p)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
