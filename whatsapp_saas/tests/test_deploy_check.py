"""Production settings pass Django's deployment checklist (HTTPS behind a TLS proxy)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from django.conf import settings


def check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --deploy` under the production settings module with `env`."""
    production = {
        "DJANGO_SETTINGS_MODULE": "whatsapp_saas.settings.base",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "FIELD_ENCRYPTION_KEY": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "whatsapp.example.com",
    }
    clean = {k: v for k, v in os.environ.items() if k not in ("DJANGO_TESTING", "DEBUG")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env={**clean, **production, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_the_production_defaults():
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_turning_https_off_in_production_is_reported():
    result = check_deploy(SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
    assert "security.W008" in result.stderr + result.stdout
