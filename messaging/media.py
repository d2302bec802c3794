"""Inbound media: a MediaFile per media message, fetched by a task, checked, stored and served.

The MediaFile row is the job (DESIGN.md "Work"): a task only wakes it; a worker takes it with one
conditional UPDATE that stamps a lease token, and every outcome is written fenced on that token,
so a worker whose lease ran out writes nothing. A message never waits for its file: it is
recorded and announced at once, its `media` shows `pending`, and `message.updated` follows.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from fnmatch import fnmatch
from functools import partial
from typing import Any

import filetype  # type: ignore[import-untyped]
from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.http import FileResponse
from django.utils import timezone

from providers.errors import MediaTooLargeError, ProviderError
from providers.registry import get_gateway
from providers.types import MediaContent
from whatsapp_saas.netguard import URLNotAllowed, check_url

from . import events
from .models import MediaFile, Message

logger = logging.getLogger(__name__)
FETCH_MEDIA = "messaging.media_tasks.fetch_media"
S = MediaFile.Status

# Types never stored whatever the settings say: a browser would run them as our origin.
ACTIVE_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "image/svg+xml", "application/javascript", "text/xml"}
)
# Shown in the browser (inline); everything else downloads as an attachment.
INLINE_FAMILIES = ("image/", "audio/", "video/")
PURGE_BATCH = 500


def lease_time() -> timedelta:
    """Long enough for one provider call of the slowest kind, with room to store the file."""
    return timedelta(seconds=settings.PROVIDER_READ_TIMEOUT * 2 + 30)


# ------------------------------------------------------------------ creating the job


def register_many(messages: Sequence[tuple[Message, Mapping[str, Any]]]) -> list[MediaFile]:
    """The MediaFiles of new media messages (one statement); fetches are woken on commit.

    Each source is the provider's media reference; its `size` is the size the provider declared.
    """
    now = timezone.now()
    files = MediaFile.objects.bulk_create(
        [
            MediaFile(
                message=message,
                tenant_id=message.tenant_id,
                source={k: v for k, v in source.items() if k != "size"},
                mime_type=message.mime_type,
                file_name=message.file_name,
                size=source.get("size"),
                next_attempt_at=now,
            )
            for message, source in messages
        ]
    )
    for file in files:
        transaction.on_commit(partial(wake, file.pk), robust=True)
    return files


def wake(media_id: int) -> None:
    """Queue the fetch of one file (on `events`, beside the webhook processing)."""
    # By name: the tasks module imports this one.
    current_app.signature(FETCH_MEDIA, args=(media_id,)).apply_async()


def wake_due(limit: int = 500) -> int:
    """The sweep: wake files due for a (re)try whose task was lost or is scheduled now."""
    now = timezone.now()
    ids = list(
        claimable(now)
        .filter(next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for media_id in ids:
        wake(media_id)
    return len(ids)


def claimable(now: Any) -> Any:
    """Pending files nobody holds (never leased, or the lease ran out)."""
    return MediaFile.objects.filter(
        Q(leased_until__isnull=True) | Q(leased_until__lte=now), status=S.PENDING
    )


def claim(media_id: int) -> uuid.UUID | None:
    """Take one due file with one conditional UPDATE; its lease token, or None when not ours."""
    now = timezone.now()
    token = uuid.uuid4()
    taken = (
        claimable(now)
        .filter(pk=media_id, next_attempt_at__lte=now)
        .update(lease_token=token, leased_until=now + lease_time(), attempts=F("attempts") + 1)
    )
    return token if taken else None


# ------------------------------------------------------------------ fetching


def fetch(media_id: int) -> str:
    """Fetch, check and store one file; returns its new status, or "skipped"."""
    token = claim(media_id)
    if token is None:
        return "skipped"
    media = MediaFile.objects.select_related("message__number").get(pk=media_id)
    limit = settings.MEDIA_MAX_BYTES
    if media.size is not None and media.size > limit:
        return finish(media, token, S.TOO_LARGE, error=f"The file is over {limit} bytes.")
    number = media.message.number
    try:
        content = get_gateway(number.provider).download_media(
            number.ref, media.source, max_bytes=limit, guard=check_url
        )
    except MediaTooLargeError as exc:
        return finish(media, token, S.TOO_LARGE, error=str(exc), size=exc.size)
    except URLNotAllowed as exc:
        return finish(media, token, S.FAILED, error=f"url_not_allowed: {exc}")
    except ProviderError as exc:
        return retry_or_fail(media, token, exc)
    return store(media, token, content)


def retry_or_fail(media: MediaFile, token: uuid.UUID, exc: ProviderError) -> str:
    """A retry later when one can help and attempts remain; otherwise the file has failed."""
    if not exc.retryable or media.attempts >= settings.MEDIA_MAX_ATTEMPTS:
        return finish(media, token, S.FAILED, error=str(exc))
    delay = exc.retry_after or settings.MEDIA_RETRY_BASE_SECONDS * 2 ** (media.attempts - 1)
    released = MediaFile.objects.filter(pk=media.pk, lease_token=token).update(
        lease_token=None,
        leased_until=None,
        error=str(exc)[:2000],
        next_attempt_at=timezone.now() + timedelta(seconds=min(delay, 3600)),
    )
    logger.info("media %s: %s; retry %s", media.pk, exc, "scheduled" if released else "lost")
    return S.PENDING


def store(media: MediaFile, token: uuid.UUID, content: MediaContent) -> str:
    """Check the type, save the bytes, then record them fenced on the lease."""
    # The message's own type keeps its parameters (codecs=opus), which download headers drop.
    declared = media.mime_type or content.mime_type
    mime = checked_type(content.data, declared)
    if mime is None:
        return finish(media, token, S.FAILED, error=f"type_not_allowed: {declared or 'unknown'}")
    name = default_storage.save(
        f"media/{media.tenant_id}/{media.message_id}-{token.hex[:8]}", ContentFile(content.data)
    )
    status = finish(
        media,
        token,
        S.STORED,
        file=name,
        size=len(content.data),
        mime_type=mime,
        file_name=media.file_name or content.file_name,
        stored_at=timezone.now(),
    )
    if status == "lost":
        default_storage.delete(name)
    return status


def finish(media: MediaFile, token: uuid.UUID, status: str, **fields: Any) -> str:
    """The final write, fenced on the lease; tells tenants the message's media changed."""
    fields["error"] = str(fields.get("error", ""))[:2000]
    with transaction.atomic():
        done = MediaFile.objects.filter(pk=media.pk, lease_token=token).update(
            status=status, lease_token=None, leased_until=None, next_attempt_at=None, **fields
        )
        if not done:
            return "lost"
        # The pages' live feeds follow messages by `updated_at`.
        Message.objects.filter(pk=media.message_id).update(updated_at=timezone.now())
        transaction.on_commit(partial(events.updated_by_id, media.message_id), robust=True)
    return status


def checked_type(data: bytes, declared: str) -> str | None:
    """The type to store the file under, or None when it may not be stored.

    The bytes decide where they can be read (a declared `image/png` that is really HTML is
    refused); the declared type (with its parameters, e.g. `codecs=opus`) is kept otherwise.
    """
    sniffed = filetype.guess_mime(data) or ""
    base = declared.split(";")[0].strip().lower()
    if sniffed and sniffed.split("/")[0] != base.split("/")[0]:
        declared, base = sniffed, sniffed
    chosen = declared.strip() or sniffed or "application/octet-stream"
    base = chosen.split(";")[0].strip().lower()
    if base in ACTIVE_TYPES or sniff_active(data):
        return None
    allowed = any(fnmatch(base, pattern) for pattern in settings.MEDIA_ALLOWED_TYPES)
    return chosen[:100] if allowed else None


def sniff_active(data: bytes) -> bool:
    """Markup a browser would render as a page, whatever the type says."""
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<svg", b"<?xml", b"<script"))


# ------------------------------------------------------------------ serving and retention


def of(message: Message) -> MediaFile | None:
    """The message's media file, if it has one."""
    try:
        return message.media_file
    except MediaFile.DoesNotExist:
        return None


def response(media: MediaFile) -> FileResponse:
    """The stored bytes with their type; only images, audio and video open in the browser."""
    inline = media.mime_type.startswith(INLINE_FAMILIES)
    answer = FileResponse(
        default_storage.open(str(media.file.name), "rb"),
        content_type=media.mime_type or "application/octet-stream",
        as_attachment=not inline,
        filename=media.file_name,
    )
    # Even if a type slipped through, the file can run nothing as our origin.
    answer["Content-Security-Policy"] = "sandbox; default-src 'none'"
    answer["X-Content-Type-Options"] = "nosniff"
    answer["Cache-Control"] = "private, max-age=3600"
    return answer


def purge_expired(retention_days: int) -> int:
    """Delete stored files older than the retention period; the message keeps its `media`."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    purged = 0
    while True:
        batch = list(
            MediaFile.objects.filter(status=S.STORED, stored_at__lt=cutoff)
            .order_by("stored_at")
            .values_list("pk", "file")[:PURGE_BATCH]
        )
        if not batch:
            return purged
        for _, name in batch:
            if name:
                default_storage.delete(name)
        purged += MediaFile.objects.filter(pk__in=[pk for pk, _ in batch]).update(
            status=S.EXPIRED, file=""
        )
