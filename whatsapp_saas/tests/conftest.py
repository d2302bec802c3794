"""Fixtures of the project-level tests: a redis-server of a test's own, linked numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from messaging.tests.fixtures import linked  # noqa: F401

from .processes import RedisServer, publish_to


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def on_own_redis(redis_server: RedisServer, settings: Any) -> Iterator[RedisServer]:
    """This process uses the test's redis-server too: cache, rate limits and Celery publishing."""
    settings.REDIS_URL = redis_server.url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": redis_server.url}}
    previous = publish_to(redis_server.url)
    yield redis_server
    publish_to(previous)
