"""Production settings refuse to start without their secrets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the production settings in a fresh interpreter with exactly this environment."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG", "DJANGO_TESTING"}
    }
    return subprocess.run(
        [sys.executable, "-c", "import whatsapp_saas.settings.base as s; print(s.DEBUG)"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secret_key_and_encryption_key():
    result = start()
    assert result.returncode != 0
    assert "SECRET_KEY, FIELD_ENCRYPTION_KEY" in result.stderr


def test_production_starts_with_both_secrets_and_debug_off():
    result = start(SECRET_KEY="s" * 50, FIELD_ENCRYPTION_KEY="k" * 32)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_debug_is_on_only_when_asked():
    assert start(DEBUG="1").stdout.strip() == "True"


def test_env_example_names_every_variable_the_settings_read():
    source = (ROOT / "whatsapp_saas" / "settings" / "base.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source)) - {"DJANGO_TESTING"}
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read and read <= documented, sorted(read - documented)
