"""The operator health page's figures for the last hour and day: our tables and Redis only.

Every query is bounded by an indexed time column (SendAttempt.started_at, inbound
Message.created_at, WebhookEvent.received_at, ConnectionEvent.at), so the page costs the same
whatever the size of the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from instances.models import ConnectionEvent, Number
from messaging.models import Message, SendAttempt
from providers.events import ConnectionStatus as S
from webhooks.models import WebhookEvent

from . import charts, figures, stats

SENT, RECEIVED = "#2e7d32", "#417690"


@dataclass(frozen=True)
class Window:
    """A period the page reports on, and the size of its chart's columns."""

    name: str
    length: timedelta
    bucket: str
    buckets: int


HOUR = Window("Last hour", timedelta(hours=1), "minute", 60)
DAY = Window("Last day", timedelta(days=1), "hour", 24)


def rate(part: float, whole: float) -> float | None:
    """A percentage, or None when there is nothing to divide."""
    return round(100.0 * part / whole, 2) if whole else None


def sends(start: datetime) -> dict[str, int]:
    """Provider send calls by outcome since `start`."""
    rows = SendAttempt.objects.filter(started_at__gte=start).values_list("outcome")
    return dict(rows.annotate(n=Count("*")).order_by())


def webhooks(start: datetime, minutes: int) -> dict[str, Any]:
    """Deliveries, errors and duplicates since `start` (rows, plus Redis for the unstored)."""
    found = WebhookEvent.objects.filter(received_at__gte=start).aggregate(
        events=Count("id"),
        duplicates=Sum("duplicates", default=0),
        failed=Count("id", filter=Q(status=WebhookEvent.Status.FAILED)),
    )
    refused = stats.total("webhook_refused", minutes) + stats.total("webhook_too_large", minutes)
    unknown = stats.total("webhook_unknown_token", minutes)
    total = found["events"] + found["duplicates"] + refused + unknown
    return {
        "deliveries": total,
        "error_rate": rate(found["failed"] + refused, total),
        "dedupe_rate": rate(found["duplicates"], total),
        "unknown_instance": unknown,
        "failed": found["failed"],
        "refused": refused,
    }


QR_SCAN_SQL = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.95) WITHIN GROUP
       (ORDER BY s), count(*)
FROM (
    SELECT EXTRACT(EPOCH FROM c.at - (
        SELECT max(q.at) FROM instances_connectionevent q
        WHERE q.number_id = c.number_id AND q.to_status = 'qr_pending'
          AND q.from_status <> 'qr_pending' AND q.at <= c.at)) AS s
    FROM instances_connectionevent c
    WHERE c.at >= %s AND c.to_status = 'connected' AND c.from_status = 'qr_pending'
) AS scans
WHERE s IS NOT NULL
"""


def qr_scan(start: datetime) -> dict[str, float | int | None]:
    """p50 / p95 seconds from QR shown to connected, for scans completed since `start`."""
    with connection.cursor() as cursor:
        cursor.execute(QR_SCAN_SQL, [start])
        p50, p95, count = cursor.fetchone()
    return {
        "p50": round(p50, 1) if p50 is not None else None,
        "p95": round(p95, 1) if p95 is not None else None,
        "count": count,
    }


def disconnects(start: datetime) -> Any:
    """Transitions away from `connected` since `start`."""
    return ConnectionEvent.objects.filter(at__gte=start, from_status=S.CONNECTED).exclude(
        to_status=S.CONNECTED
    )


def unstable_numbers(start: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """The numbers that lost their connection most often since `start`."""
    top = list(
        disconnects(start)
        .values("number_id")
        .annotate(n=Count("id"))
        .order_by("-n", "number_id")[:limit]
    )
    names = Number.objects.filter(pk__in=[row["number_id"] for row in top]).select_related("tenant")
    by_id = {n.pk: n for n in names}
    return [
        {"number": by_id[row["number_id"]], "disconnects": row["n"]}
        for row in top
        if row["number_id"] in by_id
    ]


def buckets(window: Window, now: datetime) -> list[datetime]:
    """The start of each chart column, oldest first."""
    unit = timedelta(minutes=1) if window.bucket == "minute" else timedelta(hours=1)
    last = now.replace(second=0, microsecond=0)
    if window.bucket == "hour":
        last = last.replace(minute=0)
    return [last - unit * i for i in range(window.buckets - 1, -1, -1)]


def per_bucket(rows: Any, field: str, window: Window, starts: list[datetime]) -> list[int]:
    """Counts of `rows` per column of the window."""
    counted = dict(
        rows.annotate(b=Trunc(field, window.bucket)).values_list("b").annotate(n=Count("*"))
    )
    return [counted.get(start, 0) for start in starts]


def chart(window: Window, now: datetime) -> str:
    """Sends and receives per column of the window."""
    starts = buckets(window, now)
    first = starts[0]
    sent = SendAttempt.objects.filter(started_at__gte=first, outcome=SendAttempt.Outcome.SENT)
    received = Message.objects.filter(created_at__gte=first, direction=Message.Direction.INBOUND)
    fmt = "%H:%M"
    labels = [timezone.localtime(s).strftime(fmt) for s in starts]
    per = "minute" if window.bucket == "minute" else "hour"
    return charts.columns(
        f"Sends and receives per {per}, {window.name.lower()}",
        labels,
        [
            charts.Series("sent", per_bucket(sent, "started_at", window, starts), SENT),
            charts.Series("received", per_bucket(received, "created_at", window, starts), RECEIVED),
        ],
    )


def window_figures(window: Window, now: datetime) -> dict[str, Any]:
    """Every figure of one window."""
    start, minutes = now - window.length, int(window.length.total_seconds() // 60)
    outcomes = sends(start)
    sent, failed = outcomes.get("sent", 0), outcomes.get("failed", 0)
    received = Message.objects.filter(
        created_at__gte=start, direction=Message.Direction.INBOUND
    ).count()
    return {
        "name": window.name,
        "sent": sent,
        "failed": failed,
        "retried": outcomes.get("retry", 0),
        "sent_per_minute": round(sent / minutes, 2),
        "received": received,
        "received_per_minute": round(received / minutes, 2),
        "success_rate": rate(sent, sent + failed),
        "webhooks": webhooks(start, minutes),
        "qr_scan": qr_scan(start),
        "disconnects": disconnects(start).count(),
    }


def report() -> dict[str, Any]:
    """Everything the health page shows."""
    now = timezone.now()
    by_status: dict[str, int] = {}
    for (_, status), n in figures.numbers_by_status().items():
        by_status[status] = by_status.get(status, 0) + n
    return {
        "windows": [window_figures(HOUR, now), window_figures(DAY, now)],
        "charts": [chart(HOUR, now), chart(DAY, now)],
        "numbers_chart": charts.bars("Numbers by status", sorted(by_status.items())),
        "numbers_total": sum(by_status.values()),
        "queues": figures.queues(),
        "breakers": figures.breakers(),
        "unstable": unstable_numbers(now - DAY.length),
        "redis_ok": figures.redis_ok(),
        "generated_at": now,
    }
