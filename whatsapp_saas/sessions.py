"""Sessions read from Redis first and kept in PostgreSQL; a Redis outage falls back to the database.

Django's cached_db backend already logs failed cache writes on save; this also survives them when
loading, deleting (logout) and checking a key, so the portal keeps working while Redis is down.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
CACHE_ERRORS = (RedisError, OSError)


class SessionStore(cached_db.SessionStore):
    """cached_db that treats the cache as optional."""

    def load(self) -> dict[str, Any]:
        """From Redis, else from the database."""
        try:
            return super().load()
        except CACHE_ERRORS:
            logger.warning("session cache unavailable; reading the session from the database")
            return DatabaseStore.load(self)

    def exists(self, session_key: str) -> bool:
        """Whether a key is taken, asking the database when Redis does not answer."""
        try:
            return bool(super().exists(session_key))
        except CACHE_ERRORS:
            return bool(DatabaseStore.exists(self, session_key))

    def delete(self, session_key: str | None = None) -> None:
        """Delete in the database; the cached copy expires by itself if Redis is down."""
        try:
            super().delete(session_key)
        except CACHE_ERRORS:
            logger.warning("session cache unavailable; deleted the session in the database only")
