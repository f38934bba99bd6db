"""Fixtures of the evaluation tests: one MiniLM embedder for the whole session."""

from __future__ import annotations

import pytest

from evaluation.embeddings import MiniLmEmbedder


@pytest.fixture(scope="session")
def embedder() -> MiniLmEmbedder:
    """The packaged all-MiniLM-L6-v2, loaded once."""
    model = MiniLmEmbedder()
    model.load()
    return model
