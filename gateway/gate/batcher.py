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
    """Collects texts for a few milliseconds and encodes them in one call, off the loop.

    A small LRU cache means a request's prompt is embedded once and shared by the
    prompt gate and the answer gate.
    """

    def __init__(
        self, embedder: Embedder, wait_ms: float = 2.0, max_batch: int = 64, cache_size: int = 2048
    ) -> None:
        self._embedder = embedder
        self._wait_s = wait_ms / 1000
        self._max_batch = max_batch
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._cache_size = cache_size
        self._pending: dict[str, asyncio.Future[Vector]] = {}
        self._texts: dict[str, str] = {}
        self._flush: asyncio.Task[None] | None = None
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
            if len(self._pending) >= self._max_batch:
                self._start_flush(0.0)
            elif self._flush is None:
                self._start_flush(self._wait_s)
        return await asyncio.shield(self._pending[key])

    def _start_flush(self, delay: float) -> None:
        # A full batch goes at once; otherwise one timer flushes whatever has gathered.
        if self._flush is not None and delay > 0:
            return
        self._flush = asyncio.get_running_loop().create_task(self._run(delay))

    async def _run(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        pending, texts = self._pending, self._texts
        self._pending, self._texts, self._flush = {}, {}, None
        if not pending:
            return
        keys = list(pending)
        self.batches += 1
        try:
            vectors = await asyncio.to_thread(self._embedder.encode, [texts[k] for k in keys])
        except Exception as exc:  # every waiter learns of the failure
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
