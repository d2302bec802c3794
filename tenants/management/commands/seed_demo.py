"""`seed_demo`: the local run's operator account, demo tenant and API key (idempotent)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import SCOPES, Membership, Tenant
from tenants.services import create_tenant, issue_api_key


class Command(BaseCommand):
    """Create the demo operator, tenant and key once; print the login every time."""

    help = "Seed the local demo (refuses to run unless DEBUG is on)."

    def add_arguments(self, parser: CommandParser) -> None:
        """Where the generated secrets are kept between runs."""
        parser.add_argument("--state-dir", default=str(Path(settings.BASE_DIR) / "var"))

    def handle(self, *args: Any, **options: Any) -> None:
        """Seed and print."""
        if not settings.DEBUG:
            raise CommandError("seed_demo is for the local run only (DEBUG=1).")
        state = Path(options["state_dir"])
        state.mkdir(parents=True, exist_ok=True)
        password = self.operator(state / "demo-password.txt")
        tenant = Tenant.objects.filter(slug="demo").first() or create_tenant("Demo")
        user = get_user_model().objects.get(username="operator")
        Membership.objects.get_or_create(
            user=user, tenant=tenant, defaults={"role": Membership.Role.OWNER}
        )
        key_file = state / "demo-api-key.txt"
        if not key_file.exists() or not tenant.api_keys.filter(name="demo").exists():
            _, raw = issue_api_key(tenant, "demo", list(SCOPES), created_by=user)
            key_file.write_text(raw + "\n")
        self.stdout.write(f"Operator login: operator / {password}")
        self.stdout.write(f"Demo tenant API key: {key_file.read_text().strip()}")

    @staticmethod
    def operator(password_file: Path) -> str:
        """The superuser "operator", with a password generated once and kept in var/."""
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(9) + "\n")
        password = password_file.read_text().strip()
        user, _ = get_user_model().objects.get_or_create(
            username="operator", defaults={"email": "operator@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password
