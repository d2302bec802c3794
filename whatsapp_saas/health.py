"""Liveness and readiness probes."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving."""
    return JsonResponse({"status": "ok"})


def check_database() -> str:
    """Run a trivial query."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def check_redis() -> str:
    """Ping Redis with a short timeout."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


CHECKS = {"database": check_database, "redis": check_redis}


def readyz(request: HttpRequest) -> JsonResponse:
    """Database and Redis answer: 200; otherwise 503 naming what is down."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # any failure means "not ready"; the type is reported
            results[name] = f"down: {type(exc).__name__}"
    down = [name for name, result in results.items() if result != "ok"]
    body = {"status": "unavailable" if down else "ok", "checks": results, "down": down}
    return JsonResponse(body, status=503 if down else 200)
