"""Fixtures of the tenant tests: a real redis-server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_server import running_redis


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server for this module."""
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url
