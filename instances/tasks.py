"""Periodic safety nets for numbers: webhooks are the fast path, these catch what they miss.

Every task selects only the numbers that need work, so its provider calls grow with those
numbers, not with all numbers.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q, QuerySet
from django.utils import timezone

from providers.errors import ProviderError, ProviderNotSupportedError
from providers.events import ConnectionStatus as S
from providers.events import StateReason as R
from providers.registry import PROVIDERS, get_gateway

from . import health, reconcile, services, sync
from .models import ConnectionEvent, Number

logger = logging.getLogger(__name__)
Source = ConnectionEvent.Source

STUCK_CONNECTING = timedelta(minutes=2)


def pending_numbers() -> QuerySet[Number]:
    """Numbers waiting for a scan."""
    return Number.objects.live().filter(status=S.QR_PENDING)


@shared_task(ignore_result=True)
def poll_pending_numbers() -> int:
    """Every 3 s: expire scans older than 5 minutes, poll the rest; returns provider calls made."""
    cutoff = timezone.now() - services.CONNECT_WINDOW
    expired = 0
    for number in pending_numbers().filter(connect_started_at__lt=cutoff):
        services.change_status(number, S.DISCONNECTED, R.QR_EXPIRED, Source.POLL)
        expired += 1
    calls = 0
    for number in pending_numbers().filter(
        Q(connect_started_at__gte=cutoff) | Q(connect_started_at__isnull=True)
    ):
        calls += 1
        check_quietly(number)
    # A routine tick with nothing to do stays at DEBUG: it runs 20 times a minute.
    logger.log(
        logging.INFO if expired else logging.DEBUG,
        "scan poll: %d expired, %d polled",
        expired,
        calls,
    )
    return calls


def check_quietly(number: Number) -> None:
    """Poll one number; a provider failure is logged and left for the next round."""
    try:
        services.check_state(number, Source.POLL)
    except ProviderError as exc:
        logger.info("state check of %s failed: %s", number.instance_name, exc)


@shared_task(ignore_result=True)
def reconcile_connected_numbers() -> dict[str, int]:
    """Every minute: each provider's connected numbers against its live states (see reconcile).

    Returns the numbers whose live state was read, per provider.
    """
    checked = {}
    for name in PROVIDERS:
        gateway = get_gateway(name)
        if gateway.lists_connection_states:
            checked[name] = reconcile.from_listing(name, gateway)
        else:
            checked[name] = reconcile.one_by_one(name)
    # Routine: status changes it finds are recorded as ConnectionEvents, not log lines.
    logger.debug("reconcile: checked %s", checked)
    return checked


@shared_task(ignore_result=True)
def restart_stuck_numbers() -> int:
    """A number `connecting` for 2 minutes is restarted once (until it changes status again)."""
    stuck = (
        Number.objects.live()
        .filter(status=S.CONNECTING, status_changed_at__lt=timezone.now() - STUCK_CONNECTING)
        .filter(
            Q(restarted_at__isnull=True) | Q(restarted_at__lt=timezone.now() - STUCK_CONNECTING * 2)
        )
    )
    return sum(services.restart_stalled(number) for number in stuck)


@shared_task(ignore_result=True)
def check_provider_health() -> None:
    """Every minute: probe each provider; the API and admin read the stored result."""
    health.check_providers()


@shared_task(
    ignore_result=True,
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def sync_provider_instances(provider: str) -> None:
    """Daily: compare one provider's instance list with ours, and re-apply drifted webhooks."""
    try:
        sync.sync_provider(provider)
    except ProviderNotSupportedError as exc:
        logger.info("%s cannot list its instances here: %s", provider, exc)
    # Every provisioned number, not only connected ones: a waiting number needs its QR webhooks.
    provisioned = (
        Number.objects.live()
        .filter(provider=provider)
        .exclude(status__in=[S.PROVISIONING, S.ERROR])
    )
    for number in provisioned:
        try:
            sync.ensure_webhook(number)
        except ProviderError as exc:
            logger.info("webhook check of %s failed: %s", number.instance_name, exc)


@shared_task(ignore_result=True)
def sync_all_providers() -> None:
    """Fan out one sync per provider."""
    for name in PROVIDERS:
        sync_provider_instances.delay(name)


@shared_task(ignore_result=True)
def finish_deletions() -> int:
    """Every minute: retry removing numbers whose provider was down when they were deleted."""
    done = 0
    for number in Number.objects.filter(deletion_requested_at__isnull=False):
        done += services.delete_number(number, Source.POLL)
    return done


# GreenAPI sends no notAuthorized after `blocked` (reference 2.4, forum post 204), and a number
# paused by the provider (sleepMode, yellowCard) may come back without a notification: poll such
# numbers, rarely, so a later state is applied.
HELD_RECHECK_EVERY = timedelta(minutes=30)
HELD_STATUSES = (S.BANNED, S.PAUSED)


@shared_task(ignore_result=True)
def recheck_held_numbers() -> int:
    """Every 15 minutes: GreenAPI numbers banned or paused, not checked for 30 minutes."""
    due = (
        Number.objects.live()
        .filter(provider="greenapi", status__in=HELD_STATUSES)
        .exclude(status=S.PAUSED, status_reason=R.SEND_FAILURES)
        .filter(
            Q(last_state_check_at__isnull=True)
            | Q(last_state_check_at__lt=timezone.now() - HELD_RECHECK_EVERY)
        )
    )
    numbers = list(due.order_by("last_state_check_at")[:100])
    for number in numbers:
        check_quietly(number)
    return len(numbers)
