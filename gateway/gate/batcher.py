"""Sentence embeddings for the gates: batched across concurrent requests, cached per text."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Encodes texts into normalised vectors (e.g. the packaged MiniLM)."""

    def load(self) -> None:
        """Load the model (blocking)."""
        ...

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One row per text."""
        ...


class EmbeddingBatcher:
    """Encodes texts off the event loop, batching the ones that arrive while it is busy.

    An idle batcher sends a text at once (after ``wait_ms``, by default no wait): at
    low load nothing waits for company. Texts that arrive while a batch is encoding
    queue up and go together as the next batch, so under load the batch size grows
    with the arrival rate (as in continuous batching) without a fixed delay. A small
    LRU cache means a request's prompt is embedded once and shared by the prompt gate
    and the answer gate.
    """

    def __init__(
        self, embedder: Embedder, wait_ms: float = 0.0, max_batch: int = 64, cache_size: int = 2048
    ) -> None:
        self._embedder = embedder
        self._wait_s = wait_ms / 1000
        self._max_batch = max_batch
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._cache_size = cache_size
        self._pending: dict[str, asyncio.Future[Vector]] = {}
        self._texts: dict[str, str] = {}
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0

    async def start(self) -> None:
        """Load the embedding model in a thread."""
        await asyncio.to_thread(self._embedder.load)

    async def embed(self, text: str) -> Vector:
        """The text's embedding, from the cache or the next batch."""
        key = hashlib.sha256(text.encode()).hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._pending:
            self._pending[key] = asyncio.get_running_loop().create_future()
            self._texts[key] = text
            if self._worker is None:
                self._worker = asyncio.get_running_loop().create_task(self._drain())
        return await asyncio.shield(self._pending[key])

    async def _drain(self) -> None:
        # Texts queued in the same loop turn (a request's prompt and answer) join the
        # first batch: the task starts only after the caller yields.
        try:
            if self._wait_s:
                await asyncio.sleep(self._wait_s)
            while self._pending:
                await self._encode_next_batch()
        finally:
            self._worker = None

    async def _encode_next_batch(self) -> None:
        keys = list(self._pending)[: self._max_batch]
        pending = {key: self._pending.pop(key) for key in keys}
        texts = [self._texts.pop(key) for key in keys]
        self.batches += 1
        try:
            vectors = await asyncio.to_thread(self._embedder.encode, texts)
        except Exception as exc:  # every waiter of this batch learns of the failure
            for future in pending.values():
                if not future.done():
                    future.set_exception(exc)
            return
        for key, vector in zip(keys, vectors, strict=True):
            self._remember(key, vector)
            if not pending[key].done():
                pending[key].set_result(vector)

    def _remember(self, key: str, vector: Vector) -> None:
        self._cache[key] = vector
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
