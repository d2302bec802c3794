"""`create_tenant "<name>" [--owner-email E --owner-password P]`: prints the tenant id."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import InvalidInput, create_tenant


class Command(BaseCommand):
    """Create a tenant, optionally with its owner."""

    help = "Create a tenant and print its id."

    def add_arguments(self, parser: CommandParser) -> None:
        """Name, owner email and password, quota."""
        parser.add_argument("name")
        parser.add_argument("--owner-email")
        parser.add_argument("--owner-password")
        parser.add_argument("--max-numbers", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        """Create and print the id alone."""
        if options["owner_password"] and not options["owner_email"]:
            raise CommandError("--owner-password needs --owner-email.")
        try:
            tenant = create_tenant(
                options["name"],
                options["owner_email"],
                options["owner_password"],
                options["max_numbers"],
            )
        except InvalidInput as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(tenant.id))
