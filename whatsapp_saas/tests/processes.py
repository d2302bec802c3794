"""Real processes for tests about workers: redis-server and PostgreSQL of the test's own, Celery.

Every process runs in its own session so a stop reaches its children (prefork pool processes), and
is stopped by its PID when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import connection

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    """Poll until `check` returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def stop(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM the process group, then SIGKILL it if it does not exit in time."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(grace)
    except ProcessLookupError:
        pass


class RedisServer:
    """A redis-server on a free port, without persistence, that a test may SIGKILL and restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Database 0 of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it answers."""
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self.answers, 10, f"redis-server on port {self.port}")

    def answers(self) -> bool:
        """PING succeeds."""
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL the server by its PID: no shutdown, no goodbye to its clients."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def client(self) -> redis.Redis:
        """A client of database 0."""
        return redis.Redis(port=self.port, socket_timeout=5)

    def stop(self) -> None:
        """Stop it if it runs."""
        if self.process is not None:
            stop(self.process)


def tests_database_url() -> str:
    """DATABASE_URL of the test database this test process uses (committed rows only)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    return urlsplit(base)._replace(path=f"/{connection.settings_dict['NAME']}").geturl()


def app_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker or beat of this test: test settings, its DB and its Redis."""
    server, _, db = redis_url.rpartition("/")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "whatsapp_saas.settings.test",
        "DATABASE_URL": tests_database_url(),
        "REDIS_URL": f"{server}/{db}",
        "TEST_REDIS_DB": db,
        "EVOLUTION_API_URL": settings.EVOLUTION_API_URL,
        "EVOLUTION_API_KEY": settings.EVOLUTION_API_KEY,
        "LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class Celery:
    """One `celery worker` or `celery beat` process, logging to a file the test can read."""

    def __init__(self, log: Path, env: dict[str, str], *args: str) -> None:
        self.log = log
        self.out = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "whatsapp_saas", *args],
            cwd=ROOT,
            env=env,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @classmethod
    def worker(
        cls, log: Path, env: dict[str, str], queues: str, concurrency: int = 1, *flags: str
    ) -> Celery:
        """A prefork worker consuming these queues (comma-separated); returns once it is ready."""
        worker = cls.start_worker(log, env, queues, concurrency, *flags)
        worker.wait_ready()
        return worker

    @classmethod
    def start_worker(
        cls, log: Path, env: dict[str, str], queues: str, concurrency: int = 1, *flags: str
    ) -> Celery:
        """Start a prefork worker named after its log file; do not wait for it."""
        name = f"{log.stem}@%h"
        args = ["worker", "-Q", queues, "-c", str(concurrency), "-n", name, "-l", "INFO", *flags]
        return cls(log, env, *args)

    def wait_ready(self) -> None:
        """Wait until the worker logged that it is ready (it fails the test if it exits)."""
        wait_for(lambda: " ready." in self.text() or self.exited(), 90, f"{self.log.stem} ready")
        assert not self.exited(), self.text()

    def text(self) -> str:
        """Everything logged so far."""
        return self.log.read_text(errors="replace")

    def exited(self) -> bool:
        """The process is gone."""
        return self.process.poll() is not None

    def stop(self) -> None:
        """Warm shutdown, then kill."""
        stop(self.process)
        self.out.close()


def publish_to(url: str) -> str:
    """Point this process's Celery app at another broker; returns the previous broker URL."""
    from whatsapp_saas.celery import app

    celery: Any = app  # its connection pools are private: drop them so the next publish reconnects
    previous = str(celery.conf.broker_url)
    celery.conf.broker_url = url
    if celery._pool is not None:
        celery._pool.force_close_all()
    celery._pool = None
    celery.amqp._producer_pool = None
    return previous


class PostgresServer:
    """A PostgreSQL cluster of the test's own (initdb in a temp dir, a free port), to restart."""

    BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="wa-pg-"))
        self.data = self.dir / "data"

    @property
    def url(self) -> str:
        """Its `postgres` database."""
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str) -> None:
        """Run a PostgreSQL tool, as the postgres user when we are root (initdb refuses root)."""
        command = [str(self.BIN[-1] / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        """Create the cluster: trust authentication, TCP on 127.0.0.1 only."""
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it accepts connections."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self.run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )

    def crash(self) -> None:
        """Stop it the way a crash does: every backend killed, no checkpoint (`-m immediate`)."""
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")

    def remove(self) -> None:
        """Stop it if it runs and delete its files."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
