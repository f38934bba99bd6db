"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import serve_in_thread
from tests.support.upstream import UpstreamScript, create_upstream


@pytest.fixture
def upstream() -> UpstreamScript:
    """The script of the loopback upstream: set replies, read what it received."""
    return UpstreamScript()


@pytest.fixture
def upstream_url(upstream: UpstreamScript) -> Iterator[str]:
    """Base URL (with ``/v1``) of a real OpenAI-compatible server on loopback."""
    with serve_in_thread(create_upstream(upstream)) as url:
        yield f"{url}/v1"
