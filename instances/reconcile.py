"""Reconciling connected numbers with the provider, the safety net under connection webhooks.

A provider whose instance list carries each instance's state (Evolution `fetchInstances`) is read
with one call per tick; only numbers whose listed state differs from ours cost more: their live
state is read and applied through the services, since the listed one is a persisted copy that can
be stale (reference 1.3, R3). Other providers (GreenAPI's partner listing has no state) are checked
one by one, a fifth of their connected numbers per tick, at most once per 5 minutes each.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from providers.base import ProviderGateway
from providers.errors import ProviderError
from providers.events import ConnectionStatus as S

from . import services
from .models import ConnectionEvent, Number

logger = logging.getLogger(__name__)
Source = ConnectionEvent.Source

RECONCILE_EVERY = timedelta(minutes=5)
RUNS_PER_PERIOD = 5
# What comparing with a listing needs; the full row is read only for the numbers that differ.
LISTED_FIELDS = ("id", "instance_name", "provider_instance_id", "status")
# What a one-by-one check reads and applies (services.check_state and apply_state).
CHECKED_FIELDS = (
    "id",
    "tenant_id",
    "provider",
    "instance_name",
    "provider_instance_id",
    "provider_token",
    "provider_api_url",
    "status",
    "status_reason",
    "phone_number",
    "profile_name",
    "last_provider_event_at",
    "last_state_check_at",
    "connect_started_at",
    # Compared by services.unchanged (a connected number has them cleared).
    "qr_code",
    "qr_expires_at",
    "pairing_code",
    "pairing_code_expires_at",
    "last_error",
)


def connected(provider: str) -> QuerySet[Number]:
    """Live connected numbers of one provider (the partial index number_reconcile_due)."""
    return Number.objects.live().filter(provider=provider, status=S.CONNECTED)


def check_quietly(number: Number) -> bool:
    """Read and apply one number's live state; a provider failure is logged and left for later."""
    try:
        services.check_state(number, Source.POLL)
    except ProviderError as exc:
        logger.info("state check of %s failed: %s", number.instance_name, exc)
        return False
    return True


def from_listing(provider: str, gateway: ProviderGateway) -> int:
    """One list call, then the live state of each number listed otherwise; returns those checked."""
    try:
        listed = {item.ref.external_id: item.state for item in gateway.list_instances()}
    except ProviderError as exc:
        logger.info("reconcile: %s could not list its instances: %s", provider, exc)
        return 0
    differing = [
        number.pk
        for number in connected(provider).only(*LISTED_FIELDS)
        if (state := listed.get(number.provider_instance_id or number.instance_name)) is not None
        and state.status != number.status
    ]
    # A number missing from the list is left to the daily sync, which marks it `not_found`.
    for number in Number.objects.filter(pk__in=differing):
        check_quietly(number)
    return len(differing)


def one_by_one(provider: str) -> int:
    """A fifth of the connected numbers not checked for 5 minutes, oldest check first."""
    numbers = connected(provider)
    batch = math.ceil(numbers.count() / RUNS_PER_PERIOD)
    if not batch:
        return 0
    due = numbers.filter(
        Q(last_state_check_at__isnull=True)
        | Q(last_state_check_at__lt=timezone.now() - RECONCILE_EVERY)
    ).order_by(F("last_state_check_at").asc(nulls_first=True))
    checked = list(due.only(*CHECKED_FIELDS)[:batch])
    for number in checked:
        check_quietly(number)
    return len(checked)
