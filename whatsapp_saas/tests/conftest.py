"""Fixtures of the project-level tests: a redis-server of a test's own, linked numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from messaging.tests.fixtures import linked  # noqa: F401

from .processes import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
