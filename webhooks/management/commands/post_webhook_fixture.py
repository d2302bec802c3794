"""Post a recorded provider payload to a running server as if the provider sent it."""

from __future__ import annotations

import json
import secrets
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from instances.models import Number
from webhooks.fixtures import (
    addressed_to,
    fixture_names,
    load_fixture,
    provider_headers,
    webhook_path,
)


class Command(BaseCommand):
    """`post_webhook_fixture <fixture> --number <id or instance> [--url] [--sign] [--fresh]`."""

    help = (
        "Post webhooks/tests/fixtures/<provider>/<fixture>.json to a running server for a "
        "number, with the secret header its provider would send."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Command-line options."""
        parser.add_argument("fixture", nargs="?", help="e.g. messages_upsert__text")
        parser.add_argument("--number", help="the number's id or instance name")
        parser.add_argument("--url", default="", help="server base URL (PUBLIC_BASE_URL)")
        parser.add_argument("--sign", action="store_true", help="add X-Webhook-Signature")
        parser.add_argument(
            "--fresh", action="store_true", help="new message id, so a repeat is not a duplicate"
        )
        parser.add_argument("--list", action="store_true", help="list the number's fixtures")

    def handle(self, *args: Any, **options: Any) -> None:
        """Find the number, address the fixture to it, post it and show the answer."""
        number = find_number(options["number"])
        if options["list"] or not options["fixture"]:
            self.stdout.write("\n".join(fixture_names(number.provider)))
            return
        if options["fixture"] not in fixture_names(number.provider):
            raise CommandError(f"no {number.provider} fixture named {options['fixture']!r}")
        payload = addressed_to(number, load_fixture(number.provider, options["fixture"]))
        if options["fresh"]:
            refresh_ids(payload)
        body = json.dumps(payload).encode()
        url = (options["url"] or settings.PUBLIC_BASE_URL).rstrip("/") + webhook_path(number)
        headers = {
            "Content-Type": "application/json",
            **provider_headers(number, body, sign=options["sign"]),
        }
        response = requests.post(url, data=body, headers=headers, timeout=10)
        self.stdout.write(f"{response.status_code} {response.text}")


def find_number(key: str | None) -> Number:
    """The number named by id or instance name."""
    if not key:
        raise CommandError("--number is required")
    by_name = Q(instance_name=key)
    query = by_name | Q(pk=key) if len(key) == 36 else by_name
    number = Number.objects.filter(query).first()
    if number is None:
        raise CommandError(f"no number {key!r}")
    return number


def refresh_ids(payload: dict[str, Any]) -> None:
    """Give the message (or receipt, or connection change) a new identity."""
    new = secrets.token_hex(10).upper()
    data = payload.get("data")
    if isinstance(data, dict):
        if isinstance(data.get("key"), dict):
            data["key"]["id"] = new
        if "keyId" in data:
            data["keyId"] = new
    if "idMessage" in payload:
        payload["idMessage"] = new
    # Connection and state keys include the emission time (see the normalizers' key_parts).
    now = timezone.now()
    if "date_time" in payload:
        payload["date_time"] = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if "timestamp" in payload:
        payload["timestamp"] = int(now.timestamp())
