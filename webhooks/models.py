"""Provider webhook deliveries stored raw; tenants' endpoints and our deliveries to them."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django_cryptography.fields import encrypt

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


# ------------------------------------------------------------------ outbound: tenants' endpoints

EVENT_TYPES = ("message.status", "message.received", "number.status")


def all_event_types() -> list[str]:
    """Default subscription: every event type."""
    return list(EVENT_TYPES)


def new_endpoint_secret() -> str:
    """A fresh signing secret for an endpoint."""
    return "whsec_" + secrets.token_urlsafe(32)


class Endpoint(models.Model):
    """A tenant's HTTPS URL that receives our normalized events, signed with its own secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = encrypt(models.CharField(max_length=100, default=new_endpoint_secret, editable=False))
    event_types = models.JSONField(default=all_event_types)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class Delivery(models.Model):
    """One event on its way to one endpoint, with its retry state."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=32)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id}"
