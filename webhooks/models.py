"""Provider webhook deliveries, stored raw with their dedupe key and how processing went."""

from __future__ import annotations

from typing import Any

from django.db import connection, models

from instances.models import Number
from providers.events import EventType
from providers.registry import PROVIDER_CHOICES
from tenants.models import Tenant
from whatsapp_saas import safejson


class WebhookEvent(models.Model):
    """One accepted delivery: raw body, a few headers, its dedupe key and how processing went."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"
        # A payload its provider cannot have sent (wrong type or size): kept, never applied.
        INVALID = "invalid", "Invalid"

    provider = models.CharField(max_length=20, choices=PROVIDER_CHOICES)
    # SET_NULL: a deleted number's events stay for inspection until retention removes them.
    number = models.ForeignKey(
        Number, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_events"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_events")
    body = models.BinaryField()
    headers = models.JSONField(default=dict, blank=True)
    event_name = models.CharField(max_length=64, blank=True)
    event_type = models.CharField(
        max_length=32, blank=True, choices=[(t.value, t.value) for t in EventType]
    )
    # Provider-specific (reference section 6, R6); the unique constraint is the truth on repeats.
    dedupe_key = models.CharField(max_length=255)
    duplicates = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Work queue (whatsapp_saas/workqueue.py): the lease of the worker processing it, and when a
    # failed event is tried again.
    lease_token = models.UUIDField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "dedupe_key"], name="webhook_event_dedupe")
        ]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_name or '?'} #{self.pk}"

    def payload(self) -> Any:
        """The body as JSON, or None when it is not JSON (or nested beyond reason)."""
        try:
            return safejson.loads(bytes(self.body))
        except safejson.MalformedJSON:
            return None


def db_column(model: type[models.Model], name: str) -> str:
    """The quoted database column of a model's concrete field (for the ack path's raw SQL)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or field.column is None:
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return str(connection.ops.quote_name(field.column))
