"""`create_api_key <tenant slug or id> --name N --scopes a,b`: prints the key alone, last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import SCOPES
from tenants.services import InvalidInput, find_tenant, issue_api_key, parse_scopes


class Command(BaseCommand):
    """Issue an API key for a tenant."""

    help = f"Create an API key. Scopes: {', '.join(SCOPES)}."

    def add_arguments(self, parser: CommandParser) -> None:
        """Tenant, key name, scopes."""
        parser.add_argument("tenant", help="tenant slug or id")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", required=True, help="comma-separated")

    def handle(self, *args: Any, **options: Any) -> None:
        """Create the key; the secret is printed once, on the last line."""
        try:
            tenant = find_tenant(options["tenant"])
            key, raw = issue_api_key(tenant, options["name"], parse_scopes(options["scopes"]))
        except InvalidInput as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Key {key.prefix} for {tenant.slug} with {','.join(key.scopes)}; "
            "store it now, it is not shown again."
        )
        self.stdout.write(raw)
