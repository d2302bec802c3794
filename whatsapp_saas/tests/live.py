"""A real gunicorn serving the test database, for checks that need several worker processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    """The URL of the database pytest-django created (rows committed there are visible)."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def running_gunicorn(
    *, workers: int = 3, threads: int = 2, env: dict[str, str] | None = None
) -> Iterator[str]:
    """gunicorn on a free port with the test settings, database and Redis db; yields its URL."""
    port = free_port()
    command = [
        *(sys.executable, "-m", "gunicorn", "whatsapp_saas.wsgi:application"),
        *("--bind", f"127.0.0.1:{port}", "--workers", str(workers)),
        *("--worker-class", "gthread", "--threads", str(threads), "--log-level", "warning"),
    ]
    server_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "whatsapp_saas.settings.test",
        "DATABASE_URL": test_database_url(),
        "TEST_REDIS_DB": str(settings.TEST_REDIS_DB),
        **(env or {}),
    }
    server = subprocess.Popen(command, cwd=settings.BASE_DIR, env=server_env)
    try:
        wait_until_listening(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


def wait_until_listening(port: int, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Return once the port accepts connections; fail if gunicorn exits or never listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start listening")
