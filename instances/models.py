"""Numbers (one WhatsApp account at a provider) and the history of their connection."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django_cryptography.fields import encrypt

from providers.events import ConnectionStatus
from providers.registry import PROVIDER_CHOICES
from providers.types import InstanceRef
from tenants.models import Tenant

MAX_SEND_RATE_PER_MINUTE = 40 * 60
SECRET_HASH_FIELDS = ("webhook_secret_hash", "previous_webhook_secret_hash")
STATUS_LABELS = {"qr_pending": "Waiting for scan", "logged_out": "Logged out"}
STATUS_CHOICES = [
    (s.value, STATUS_LABELS.get(s.value, s.value.capitalize())) for s in ConnectionStatus
]


def hash_secret(value: str) -> str:
    """The stored form of a webhook URL token or secret: what the webhook hot path compares."""
    return hashlib.sha256(value.encode()).hexdigest()


LIVE = models.Q(deletion_requested_at__isnull=True)


class NumberQuerySet(models.QuerySet["Number"]):
    """Queries over numbers."""

    def live(self) -> NumberQuerySet:
        """Numbers not being deleted: the ones tenants and the API see."""
        return self.filter(deletion_requested_at__isnull=True)


class Number(models.Model):
    """A WhatsApp number run through one provider instance."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="numbers")
    name = models.CharField(max_length=100)
    purpose = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=20, choices=PROVIDER_CHOICES)
    instance_name = models.SlugField(max_length=64, unique=True)
    provider_instance_id = models.CharField(max_length=100, blank=True)
    provider_api_url = models.URLField(blank=True)
    provider_token = encrypt(models.CharField(max_length=255, blank=True))
    webhook_token = encrypt(models.CharField(max_length=100))
    webhook_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    webhook_secret = encrypt(models.CharField(max_length=100))
    # The secret being rotated out, still accepted until the provider has the new one.
    previous_webhook_secret = encrypt(models.CharField(max_length=100, blank=True))
    # What webhooks compare (no decryption on the hot path); save() keeps them in step.
    webhook_secret_hash = models.CharField(max_length=64, blank=True, editable=False)
    previous_webhook_secret_hash = models.CharField(max_length=64, blank=True, editable=False)

    status = models.CharField(
        max_length=20, choices=STATUS_CHOICES, default=ConnectionStatus.PROVISIONING
    )
    status_reason = models.CharField(max_length=40, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    phone_number = models.CharField(max_length=20, blank=True)
    profile_name = models.CharField(max_length=200, blank=True)
    qr_code = models.TextField(blank=True)
    qr_expires_at = models.DateTimeField(null=True, blank=True)
    pairing_code = models.CharField(max_length=16, blank=True)
    pairing_code_expires_at = models.DateTimeField(null=True, blank=True)
    connect_started_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    qr_updated_at = models.DateTimeField(null=True, blank=True)
    last_state_check_at = models.DateTimeField(null=True, blank=True)
    # The provider's time of the newest connection event applied: older ones arrive late, ignored.
    last_provider_event_at = models.DateTimeField(null=True, blank=True)
    restarted_at = models.DateTimeField(null=True, blank=True)
    deletion_requested_at = models.DateTimeField(null=True, blank=True)

    send_rate_per_minute = models.PositiveIntegerField(default=20)
    consecutive_send_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NumberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["provider"]),
            models.Index(fields=["tenant", "status"]),
            models.Index(fields=["phone_number"]),
            # The API's pager order over live numbers (NewestFirstCursorPagination).
            models.Index(
                fields=["tenant", "-created_at", "-id"],
                condition=LIVE,
                name="number_live_tenant_newest",
            ),
            # Beat tasks' filters: only the few rows each one looks at.
            models.Index(
                fields=["provider", "last_state_check_at"],
                condition=LIVE & models.Q(status=ConnectionStatus.CONNECTED),
                name="number_reconcile_due",
            ),
            models.Index(
                fields=["connect_started_at"],
                condition=LIVE & models.Q(status=ConnectionStatus.QR_PENDING),
                name="number_scan_pending",
            ),
            models.Index(
                fields=["deletion_requested_at"],
                condition=models.Q(deletion_requested_at__isnull=False),
                name="number_deletion_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.instance_name})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """New numbers get their webhook token and secret; the secrets' hashes follow them."""
        if not self.webhook_token:
            self.set_webhook_token(secrets.token_urlsafe(24))
        if not self.webhook_secret:
            self.webhook_secret = secrets.token_urlsafe(32)
        self.webhook_secret_hash = hash_secret(self.webhook_secret)
        previous = self.previous_webhook_secret
        self.previous_webhook_secret_hash = hash_secret(previous) if previous else ""
        fields = kwargs.get("update_fields")
        if fields is not None and {"webhook_secret", "previous_webhook_secret"} & set(fields):
            kwargs["update_fields"] = {*fields, *SECRET_HASH_FIELDS}
        super().save(*args, **kwargs)

    def set_webhook_token(self, token: str) -> None:
        """Set the URL token with its lookup hash."""
        self.webhook_token = token
        self.webhook_token_hash = hash_secret(token)

    @property
    def ref(self) -> InstanceRef:
        """How the gateway addresses this number."""
        return InstanceRef(
            external_id=self.provider_instance_id or self.instance_name,
            token=self.provider_token,
            api_url=self.provider_api_url,
        )

    @property
    def is_connected(self) -> bool:
        """Linked and able to send."""
        return self.status == ConnectionStatus.CONNECTED


class ConnectionEvent(models.Model):
    """One change of a number's status: from, to, why, who noticed."""

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        POLL = "poll", "Poll"
        OPERATOR = "operator", "Operator"
        API = "api", "API"
        TASK = "task", "Task"

    number = models.ForeignKey(Number, on_delete=models.CASCADE, related_name="connection_events")
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    reason = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["number", "-at", "-id"], name="connevent_number_newest")]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status} ({self.reason or 'no reason'})"
