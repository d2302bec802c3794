"""Contacts, conversations, messages and their send attempts, lanes, echoes and early receipts."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from instances.models import Number
from providers.events import MessageKind
from tenants.models import Tenant


class Contact(models.Model):
    """Someone a tenant's numbers talk with: a phone (E.164 digits) with JID and LID, or a group."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="contacts")
    phone = models.CharField(max_length=20, blank=True)
    jid = models.CharField(max_length=120, blank=True)
    # WhatsApp's privacy id (`…@lid`); some payloads carry only this (reference 1.6, R15).
    lid = models.CharField(max_length=120, blank=True)
    name = models.CharField(max_length=200, blank=True)
    is_group = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "phone"],
                condition=~Q(phone=""),
                name="contact_phone_unique_per_tenant",
            ),
            models.UniqueConstraint(
                fields=["tenant", "lid"], condition=~Q(lid=""), name="contact_lid_unique_per_tenant"
            ),
            models.UniqueConstraint(
                fields=["tenant", "jid"],
                condition=Q(is_group=True),
                name="contact_group_unique_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.phone or self.jid or self.lid


class Conversation(models.Model):
    """One number's thread with one contact; created by the first message either way."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="conversations")
    number = models.ForeignKey(Number, on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    last_message_at = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    # The newest message a member has seen on screen; unread counts the inbound ones after it.
    last_read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["number", "contact"], name="conversation_unique_per_number_contact"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-last_message_at"]),
            # The API's pager order (NewestFirstCursorPagination).
            models.Index(
                fields=["tenant", "-created_at", "-id"], name="conversation_tenant_newest"
            ),
            # ?number= in the same order (the tenant-wide one would scan past other numbers).
            models.Index(
                fields=["number", "-created_at", "-id"], name="conversation_number_newest"
            ),
            # The inbox's change feed (messaging/feed.py).
            models.Index(fields=["tenant", "updated_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} ↔ {self.contact}"


class Campaign(models.Model):
    """One text or media message to many recipients, sent through the normal pipeline, paced."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="campaigns")
    number = models.ForeignKey(Number, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=12, default=MessageKind.TEXT.value)
    text = models.TextField(blank=True)
    media_url = models.CharField(max_length=2000, blank=True)
    caption = models.TextField(blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    # Phone numbers as digits (E.164 without "+"), in sending order, deduplicated.
    recipients = models.JSONField(default=list, blank=True)
    delay_seconds = models.FloatField(default=2.0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class Message(models.Model):
    """One message in or out; outbound rows are also the send outbox (DESIGN.md section 4)."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        PLAYED = "played", "Played"
        FAILED = "failed", "Failed"
        # Inbound messages: they reached us; receipts never apply to them.
        RECEIVED = "received", "Received"

    # Built from MessageKind so the kinds live in one place; django-stubs types only the class form.
    Type = models.TextChoices(  # type: ignore[call-overload]
        "Type", [(kind.name, kind.value) for kind in MessageKind]
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="messages")
    number = models.ForeignKey(Number, on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(max_length=10, choices=Direction.choices)
    type = models.CharField(max_length=12, choices=Type.choices, default=MessageKind.TEXT.value)
    recipient = models.CharField(max_length=120, blank=True)
    sender = models.CharField(max_length=120, blank=True)
    text = models.TextField(blank=True)
    media_url = models.CharField(max_length=2000, blank=True)
    caption = models.TextField(blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    mime_type = models.CharField(max_length=100, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    # Group messages are recorded but never answered automatically.
    is_group = models.BooleanField(default=False)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    provider_message_id = models.CharField(max_length=128, blank=True)
    client_message_id = models.CharField(max_length=128, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set while an attempt may be at the provider: such a message is resolved before any resend.
    in_flight_since = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )

    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # Content changes that never touch the status (API.md "Messages").
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    # [{"emoji", "from", "at"}], one per sender; an empty emoji removes the sender's reaction.
    reactions = models.JSONField(default=list, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["number", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_provider_id_unique_per_number",
            ),
            models.UniqueConstraint(
                fields=["tenant", "client_message_id"],
                condition=~Q(client_message_id=""),
                name="message_client_id_unique_per_tenant",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["conversation", "-created_at"]),
            # The open conversation's change feed (messaging/feed.py).
            models.Index(fields=["conversation", "updated_at"]),
            models.Index(fields=["number", "status"]),
            # The lane's queue: a number's queued messages in order, and per chat.
            models.Index(
                fields=["number", "created_at"],
                condition=Q(status="queued"),
                name="message_lane_order",
            ),
            models.Index(
                fields=["number", "recipient", "created_at"],
                condition=Q(status="queued"),
                name="message_lane_chat",
            ),
            # GET /messages/?to= and ?number=, in the pager's order.
            models.Index(
                fields=["tenant", "recipient", "-created_at", "-id"],
                name="message_tenant_recipient",
            ),
            models.Index(fields=["number", "-created_at", "-id"], name="message_number_newest"),
            # The outbox: only queued rows (a small share of all messages) are looked up by time.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="queued"),
                name="message_queued_due",
            ),
            # Receives per minute on the health page.
            models.Index(
                fields=["created_at"],
                condition=Q(direction="inbound"),
                name="message_inbound_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.type} {self.status}"

    @property
    def error(self) -> dict[str, Any] | None:
        """The API's `error` object, or None."""
        if not self.error_code:
            return None
        return {"code": self.error_code, "message": self.error_message}


class SendAttempt(models.Model):
    """One try at handing an outbound message to the provider, committed before the call."""

    class Outcome(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        SENT = "sent", "Sent"
        RETRY = "retry", "Will retry"
        FAILED = "failed", "Failed"
        # Still in flight after the grace period and the provider shows no such message.
        UNCONFIRMED = "unconfirmed", "Not found at the provider"

    class Resolution(models.TextChoices):
        ANSWER = "answer", "Provider's answer"
        ECHO = "echo", "Send echo"
        HISTORY = "history", "Provider's history"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="send_attempts")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    # providers.base.body_fingerprint of what was sent: how an echo or history entry is matched.
    fingerprint = models.CharField(max_length=64, blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)
    resolved_by = models.CharField(max_length=8, choices=Resolution.choices, blank=True)
    provider_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        # Sends per minute and the success rate on the health page.
        indexes = [models.Index(fields=["started_at"], name="sendattempt_started")]

    def __str__(self) -> str:
        return f"attempt {self.started_at:%Y-%m-%d %H:%M:%S} {self.outcome or 'running'}"


class SendLane(models.Model):
    """A number's lane: the one worker holding its lease is the number's only sender.

    `due_at` is when the lane next has something it may do (null: idle until a message wakes it);
    `not_before` holds it back for a pause that applies to every message (no send slot, 429, an
    open circuit), which even a fresh message's wake-up respects.
    """

    number = models.OneToOneField(
        Number, primary_key=True, on_delete=models.CASCADE, related_name="send_lane"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["due_at"])]

    def __str__(self) -> str:
        return f"lane of {self.number_id}"


class SentEcho(models.Model):
    """A provider's echo of an API send we had no message for yet (its answer not recorded).

    A lane resolving an in-flight message matches it by chat and body fingerprint.
    """

    number = models.ForeignKey(Number, on_delete=models.CASCADE, related_name="sent_echoes")
    provider_message_id = models.CharField(max_length=128)
    # Recipient digits, as Message.recipient.
    chat = models.CharField(max_length=120)
    fingerprint = models.CharField(max_length=64)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["number", "provider_message_id"], name="sent_echo_once_per_number"
            )
        ]
        indexes = [models.Index(fields=["number", "chat", "fingerprint"])]

    def __str__(self) -> str:
        return f"echo {self.provider_message_id}"


class PendingReceipt(models.Model):
    """A receipt whose message we do not know yet (Evolution delivers out of order, ref 1.9)."""

    number = models.ForeignKey(Number, on_delete=models.CASCADE, related_name="pending_receipts")
    provider_message_id = models.CharField(max_length=128)
    status = models.CharField(max_length=10, choices=Message.Status.choices)
    reason = models.CharField(max_length=50, blank=True)
    detail = models.TextField(blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["number", "provider_message_id", "status"],
                name="pending_receipt_once_per_status",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider_message_id} → {self.status}"


def media_path(instance: MediaFile, filename: str) -> str:
    """Files live under their tenant, named by the message id (never by the sender's name)."""
    return f"media/{instance.tenant_id}/{instance.message_id}"


class MediaFile(models.Model):
    """The file of an inbound media message; the row is the fetch job (DESIGN.md "Media")."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being fetched"
        STORED = "stored", "Stored"
        FAILED = "failed", "Failed"
        TOO_LARGE = "too_large", "Too large"
        EXPIRED = "expired", "Removed after the retention period"

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="media_file")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="media_files")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # What the provider needs to hand the file over (Evolution: the message as received;
    # GreenAPI: its downloadUrl), kept so a retry does not depend on the stored webhook body.
    source = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to=media_path, max_length=300, blank=True)
    mime_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    stored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "stored_at"]),
        ]

    def __str__(self) -> str:
        return f"media of {self.message_id} ({self.status})"


class PendingChange(models.Model):
    """An edit, deletion or reaction whose message we do not know yet (deliveries overtake)."""

    number = models.ForeignKey(Number, on_delete=models.CASCADE, related_name="pending_changes")
    provider_message_id = models.CharField(max_length=128)
    kind = models.CharField(max_length=10)
    # The normalized change (text, emoji and sender, …) as JSON.
    change = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["number", "provider_message_id"])]

    def __str__(self) -> str:
        return f"{self.kind} of {self.provider_message_id}"
