"""The local run: settings for a laptop, migrate, seed the demo, then web, workers, beat, sandbox.

Called by `make run` inside scripts/devservices.py, which provides DATABASE_URL and REDIS_URL.
Procfile.dev starts one small worker per queue (send, events, notify, maintenance): on a 2-core
laptop the four cost about 130 MiB of unique memory and under 1 % of a core while idle, and a
backlog on one queue (tenants' failing endpoints) never delays a send, as in production.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PORT = os.environ.get("PORT", "8000")
SANDBOX_PORT = os.environ.get("SANDBOX_PORT", "8081")


def local_secrets() -> dict[str, str]:
    """Secrets generated once and kept in var/local.env, so encrypted fields stay readable."""
    path = VAR / "local.env"
    if not path.exists():
        VAR.mkdir(exist_ok=True)
        path.write_text(
            f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
            f"FIELD_ENCRYPTION_KEY={secrets.token_urlsafe(32)}\n"
            f"EVOLUTION_API_KEY={secrets.token_hex(16)}\n"
        )
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name: value for name, value in pairs}


def local_env() -> dict[str, str]:
    """The environment of every local process; anything already set wins."""
    defaults = {
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "whatsapp_saas.settings.base",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{PORT}",
        "EVOLUTION_API_URL": f"http://127.0.0.1:{SANDBOX_PORT}",
        "GREENAPI_API_URL": f"http://127.0.0.1:{SANDBOX_PORT}",
        # The sandbox's default Partner API token, so the daily sync can list GreenAPI instances.
        "GREENAPI_PARTNER_TOKEN": "sandbox-partner-token",
        # The sandbox serves demo media and may be named in media URLs (whatsapp_saas/netguard.py).
        "ALLOWED_INTERNAL_HOSTS": f"127.0.0.1:{SANDBOX_PORT},localhost:{SANDBOX_PORT}",
        "LOG_FORMAT": "text",
        "PORT": PORT,
        "SANDBOX_PORT": SANDBOX_PORT,
        "PYTHONUNBUFFERED": "1",
        # One folder for the counters of web and every worker; /metrics sums them.
        "PROMETHEUS_MULTIPROC_DIR": str(VAR / "prometheus"),
        **local_secrets(),
    }
    env = {**defaults, **os.environ}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def reset_metrics(folder: str) -> None:
    """Empty the metrics folder: a new run starts its counters at zero (nothing runs yet)."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def manage(env: dict[str, str], *args: str) -> str:
    """Run a management command and return its output; stop the run if it fails."""
    result = subprocess.run(  # noqa: S603  (our own interpreter and manage.py)
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def main() -> int:
    """Prepare and start every process with honcho; Ctrl-C stops them all."""
    env = local_env()
    reset_metrics(env["PROMETHEUS_MULTIPROC_DIR"])
    print("Migrating the database…", flush=True)
    manage(env, "migrate", "--noinput")
    seeded = manage(env, "seed_demo").strip()
    banner = "\n".join(
        [
            "",
            "=" * 64,
            f"  WhatsApp Numbers is starting on http://127.0.0.1:{PORT}/",
            f"  Admin: http://127.0.0.1:{PORT}/admin/    API docs: http://127.0.0.1:{PORT}/api/docs/",
            f"  Sandbox provider (scan QR codes here): http://127.0.0.1:{SANDBOX_PORT}/_sandbox/",
            *(f"  {line}" for line in seeded.splitlines()),
            "  Stop with Ctrl-C.",
            "=" * 64,
            "",
        ]
    )
    print(banner, flush=True)
    honcho = str(Path(sys.executable).with_name("honcho"))
    os.chdir(ROOT)
    # exec, so Ctrl-C and SIGTERM reach honcho, which stops every process it started.
    os.execve(honcho, [honcho, "start", "-f", "Procfile.dev"], env)  # noqa: S606


if __name__ == "__main__":
    sys.exit(main())
