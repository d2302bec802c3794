"""Campaigns: one message to many recipients, queued through the normal send pipeline, paced.

Each recipient's message is scheduled `delay_seconds` after the previous one (`not_before`); the
number's lane still takes a slot from its rate limiter, so the slower of the two wins, and keeps
the delay a true minimum after an outage. Pausing stops new sends at once (a lane skips a paused
campaign's messages).
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from instances.models import Number
from providers.base import e164_digits
from tenants.models import Tenant

from . import wakeup
from .content import content_errors
from .models import Campaign, Message
from .outbox import CANCELLED, fail_unsent, queue_message

PHONE_HEADERS = {"phone", "number", "to", "telefone", "whatsapp", "mobile"}
Status = Campaign.Status


class CampaignError(ValueError):
    """A campaign request that cannot be done; the message says why."""


def parse_recipients(values: list[str]) -> tuple[list[str], list[str]]:
    """Valid phones (deduplicated, in order) and the values that were not phones."""
    valid: dict[str, None] = {}
    invalid = []
    for value in values:
        phone = e164_digits(value)
        if phone:
            valid.setdefault(phone)
        elif value.strip():
            invalid.append(value.strip())
    return list(valid), invalid


def recipients_from_csv(data: bytes) -> tuple[list[str], list[str]]:
    """Phones from a CSV: the column named phone/number/to, else the first column."""
    text = data.decode("utf-8-sig", errors="replace")
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        return [], []
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((i for i, name in enumerate(header) if name in PHONE_HEADERS), None)
    body = rows[1:] if column is not None else rows
    return parse_recipients([row[column or 0] if len(row) > (column or 0) else "" for row in body])


def create_campaign(
    tenant: Tenant,
    number: Number,
    *,
    name: str,
    recipients: list[str],
    type: str = "text",
    text: str = "",
    media_url: str = "",
    caption: str = "",
    file_name: str = "",
    delay_seconds: float = 2.0,
    created_by: Any = None,
) -> Campaign:
    """A draft campaign of the tenant's number; invalid recipients refused, duplicates merged."""
    if number.tenant_id != tenant.pk:
        raise CampaignError("The number does not belong to this workspace.")
    phones, invalid = parse_recipients(recipients)
    if invalid:
        raise CampaignError(
            f"Not phone numbers: {', '.join(invalid[:5])}"
            + (f" and {len(invalid) - 5} more" if len(invalid) > 5 else "")
        )
    if not phones:
        raise CampaignError("A campaign needs at least one recipient.")
    if errors := content_errors(type, text=text, media_url=media_url):
        raise CampaignError(" ".join(f"{field}: {why}" for field, why in errors.items()))
    return Campaign.objects.create(
        tenant=tenant,
        number=number,
        name=name,
        type=type,
        text=text,
        media_url=media_url,
        caption=caption,
        file_name=file_name,
        recipients=phones,
        delay_seconds=max(delay_seconds, 0.0),
        created_by=created_by,
    )


def start_campaign(campaign: Campaign) -> int:
    """Start (or resume) sending; returns how many messages were newly queued."""

    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status not in {Status.DRAFT, Status.PAUSED}:
            raise CampaignError(f"A {locked.status} campaign cannot be started.")
        now = timezone.now()
        locked.status, locked.started_at = Status.RUNNING, locked.started_at or now
        locked.save(update_fields=["status", "started_at"])
        step = timedelta(seconds=locked.delay_seconds)
        waiting = list(
            locked.messages.filter(status=Message.Status.QUEUED).order_by("next_attempt_at")
        )
        for i, message in enumerate(waiting):
            message.next_attempt_at = now + step * i
        Message.objects.bulk_update(waiting, ["next_attempt_at"])
        done = set(locked.messages.values_list("recipient", flat=True))
        todo = [phone for phone in locked.recipients if phone not in done]
        for i, phone in enumerate(todo, start=len(waiting)):
            queue_message(
                locked.number,
                to=phone,
                type=locked.type,
                text=locked.text,
                media_url=locked.media_url,
                caption=locked.caption,
                file_name=locked.file_name,
                campaign=locked,
                client_message_id=f"campaign:{locked.pk}:{phone}",
                not_before=now + step * i,
                wake=False,
            )
        wakeup.wake_on_commit(locked.number_id)
    campaign.refresh_from_db()
    return len(todo)


def pause_campaign(campaign: Campaign) -> None:
    """Stop new sends at once; queued messages wait until it is started again."""
    changed = Campaign.objects.filter(pk=campaign.pk, status=Status.RUNNING).update(
        status=Status.PAUSED
    )
    if not changed:
        raise CampaignError("Only a running campaign can be paused.")
    campaign.refresh_from_db()


def cancel_campaign(campaign: Campaign) -> int:
    """Stop for good: messages not yet sent fail as `campaign_cancelled`; returns how many."""
    with transaction.atomic():
        changed = Campaign.objects.filter(
            pk=campaign.pk, status__in=[Status.DRAFT, Status.RUNNING, Status.PAUSED]
        ).update(status=Status.CANCELLED, finished_at=timezone.now())
        if not changed:
            raise CampaignError("This campaign has already ended.")
        # A message at the provider right now is left to its lane (sent, or failed after).
        failed = fail_unsent(campaign.messages.all(), CANCELLED)
    campaign.refresh_from_db()
    return failed


def progress(campaign: Campaign) -> dict[str, int]:
    """Messages by status, plus the recipients not queued yet."""
    counts = dict(campaign.messages.values_list("status").annotate(n=Count("pk")).order_by())
    result = {
        status: counts.get(status, 0)
        for status in ("queued", "sent", "delivered", "read", "played", "failed")
    }
    result["total"] = len(campaign.recipients)
    result["not_queued"] = result["total"] - sum(counts.values())
    return result


def complete_finished() -> int:
    """Mark running campaigns whose every message has left the queue as completed."""
    running = Campaign.objects.filter(status=Status.RUNNING)
    done = [
        c.pk
        for c in running
        if not c.messages.filter(status=Message.Status.QUEUED).exists()
        and c.messages.count() >= len(c.recipients)
    ]
    return Campaign.objects.filter(pk__in=done, status=Status.RUNNING).update(
        status=Status.COMPLETED, finished_at=timezone.now()
    )
