"""Test settings: the base settings with fast hashing and test-only defaults."""

import os

os.environ.setdefault("DJANGO_TESTING", "1")
os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "test-field-encryption-key")
os.environ.setdefault("CACHE_KEY_PREFIX", "wa-test")

from .base import *  # noqa: F403
from .base import REDIS_URL as _BASE_REDIS_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
ALLOWED_HOSTS = ["*"]
# The test client and live servers speak plain HTTP.
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0

# Tests use their own Redis database (15 unless TEST_REDIS_DB says otherwise) of the configured
# server, so they never flush the data of a local run sharing it; conftest.py flushes it per test.
TEST_REDIS_DB = env.int("TEST_REDIS_DB", default=15)  # noqa: F405
_server = _BASE_REDIS_URL.rsplit("/", 1)[0] if _BASE_REDIS_URL.count("/") >= 3 else _BASE_REDIS_URL
REDIS_URL = f"{_server}/{TEST_REDIS_DB}"
CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
CELERY_BROKER_URL = REDIS_URL
# Providers (the sandbox) post webhooks here unless a test points them at its live server:
# port 9 (discard) so a developer's running local server never receives test traffic.
PUBLIC_BASE_URL = "http://127.0.0.1:9"
# Live-server tests answer from threads; persistent connections would outlive the test database.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
