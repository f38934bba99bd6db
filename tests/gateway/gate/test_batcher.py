"""The embedding batcher: no wait when idle, one batch for what queues while it is busy."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from gateway.gate.batcher import EmbeddingBatcher


class GatedEmbedder:
    """Encodes only when the test opens the gate, so a batch can be held in flight."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = threading.Event()
        self.fail = False

    def load(self) -> None:
        """Nothing to load."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Row i is (len(text), 1) once released."""
        self.calls.append(list(texts))
        self.release.wait(timeout=10)
        if self.fail:
            raise RuntimeError("embedder down")
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_an_idle_batcher_sends_at_once_and_batches_what_arrives_meanwhile() -> None:
    embedder = GatedEmbedder()
    batcher = EmbeddingBatcher(embedder)
    first = asyncio.ensure_future(batcher.embed("a"))
    await _until(lambda: embedder.calls == [["a"]])  # sent alone, without a window
    later = [asyncio.ensure_future(batcher.embed(t)) for t in ("bb", "ccc", "bb")]
    await asyncio.sleep(0.05)
    assert embedder.calls == [["a"]]  # the others wait for the batch in flight
    embedder.release.set()
    vectors = await asyncio.gather(first, *later)
    assert embedder.calls == [["a"], ["bb", "ccc"]]  # repeats are encoded once
    assert [float(v[0]) for v in vectors] == [1.0, 2.0, 3.0, 2.0]
    assert batcher.batches == 2
    assert float((await batcher.embed("ccc"))[0]) == 3.0  # from the cache
    assert len(embedder.calls) == 2


async def test_a_failed_batch_fails_its_waiters_and_the_next_text_gets_a_new_batch() -> None:
    embedder = GatedEmbedder()
    embedder.fail = True
    embedder.release.set()
    batcher = EmbeddingBatcher(embedder)
    with pytest.raises(RuntimeError, match="embedder down"):
        await batcher.embed("a")
    embedder.fail = False
    assert float((await batcher.embed("a"))[0]) == 1.0
