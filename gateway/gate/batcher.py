"""Sentence embeddings for the gates: batched across concurrent requests, cached per text."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gateway.microbatch import MicroBatcher, Waiter

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

    The batching is the kernel's ``MicroBatcher``: an idle batcher sends a text at once
    (after ``wait_ms``, by default no wait), and texts that arrive while a batch encodes
    go together as the next one. On top of it, a text already waiting is not queued
    twice, and a small LRU cache means a request's prompt is embedded once and shared by
    the prompt gate and the answer gate.
    """

    def __init__(
        self, embedder: Embedder, wait_ms: float = 0.0, max_batch: int = 64, cache_size: int = 2048
    ) -> None:
        self._embedder = embedder
        self._batcher: MicroBatcher[str, Vector] = MicroBatcher(
            self._encode, max_batch=max_batch, wait_s=wait_ms / 1000
        )
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._cache_size = cache_size
        self._pending: dict[str, asyncio.Future[Vector]] = {}

    @property
    def batches(self) -> int:
        """Batches encoded so far."""
        return self._batcher.batches

    async def start(self) -> None:
        """Load the embedding model in a thread."""
        await asyncio.to_thread(self._embedder.load)

    async def embed(self, text: str) -> Vector:
        """The text's embedding, from the cache or the next batch."""
        key = hashlib.sha256(text.encode()).hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        pending = self._pending.get(key)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = self._pending[key] = self._batcher.submit(text)
            pending.add_done_callback(lambda done: self._settle(key, done))
        # A caller that gives up must not cancel the text for the others waiting on it.
        return await asyncio.shield(pending)

    async def _encode(self, waiters: list[Waiter[str, Vector]]) -> list[Vector]:
        vectors = await asyncio.to_thread(self._embedder.encode, [w.item for w in waiters])
        return list(vectors)

    def _settle(self, key: str, done: asyncio.Future[Vector]) -> None:
        if self._pending.get(key) is done:
            del self._pending[key]
        if not done.cancelled() and done.exception() is None:
            self._cache[key] = done.result()
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
