"""A scan's end as providers really show it, and the pairing code on /status/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from instances import services
from instances.models import ConnectionEvent, Number
from providers.events import ConnectionStatus, StateReason
from providers.types import ConnectionState

pytestmark = pytest.mark.django_db
CLOSE = ConnectionState(ConnectionStatus.DISCONNECTED, StateReason.NONE, "close")


def scanning(number: Number, qr_age: timedelta) -> Number:
    """The number waiting for a scan, its QR last renewed `qr_age` ago."""
    Number.objects.filter(pk=number.pk).update(
        status="qr_pending", status_reason="waiting_scan", qr_updated_at=timezone.now() - qr_age
    )
    number.refresh_from_db()
    return number


def test_close_after_the_qr_stopped_renewing_ends_the_scan_as_qr_expired(
    evolution_number: Any,
) -> None:
    """After QRCODE_LIMIT, connectionState answers close, not refused (Corrections)."""
    number = services.apply_state(
        scanning(evolution_number, timedelta(minutes=3)), CLOSE, ConnectionEvent.Source.POLL
    )
    assert (number.status, number.status_reason) == ("disconnected", "qr_expired")


def test_close_while_the_qr_is_fresh_leaves_the_scan_waiting(evolution_number: Any) -> None:
    number = services.apply_state(
        scanning(evolution_number, timedelta(seconds=20)), CLOSE, ConnectionEvent.Source.POLL
    )
    assert number.status == "qr_pending"


def test_status_shows_the_pairing_code_while_it_is_valid(api: Any, evolution_number: Any) -> None:
    url = f"/api/v1/numbers/{evolution_number.pk}/status/"
    Number.objects.filter(pk=evolution_number.pk).update(
        pairing_code="WZYEH1YY", pairing_code_expires_at=timezone.now() + timedelta(minutes=2)
    )
    assert api.get(url).json()["pairing_code"] == "WZYEH1YY"
    Number.objects.filter(pk=evolution_number.pk).update(
        pairing_code_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert api.get(url).json()["pairing_code"] is None
