"""Fixtures of the evaluation tests: one MiniLM embedder for the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.embeddings import MiniLmEmbedder


@pytest.fixture(scope="session")
def onnx_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty aligngate cache, so the session's first load really exports the model."""
    return tmp_path_factory.mktemp("aligngate-cache")


@pytest.fixture(scope="session")
def embedder(onnx_cache_dir: Path) -> MiniLmEmbedder:
    """The packaged all-MiniLM-L6-v2 in ONNX Runtime, exported once into ``onnx_cache_dir``."""
    model = MiniLmEmbedder(cache_dir=onnx_cache_dir)
    model.load()
    return model
