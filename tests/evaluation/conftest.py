"""Fixtures of the evaluation tests: one MiniLM embedder for the whole session, a chat server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evaluation.embeddings import MiniLmEmbedder
from tests.evaluation.fakes import ChatScript, create_chat_server
from tests.support.servers import serve_in_thread


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


@pytest.fixture
def endpoint_url(script: ChatScript) -> Iterator[str]:
    """The base URL (with /v1) of a real chat server answering by the test's ``script``."""
    with serve_in_thread(create_chat_server(script)) as url:
        yield f"{url}/v1"
