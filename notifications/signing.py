"""Standard Webhooks signatures (https://www.standardwebhooks.com) with the reference library."""

from __future__ import annotations

import json
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from standardwebhooks import Webhook

from .models import Delivery

USER_AGENT = "whatsapp-saas-webhooks/2"


def body_of(delivery: Delivery) -> bytes:
    """The exact bytes posted (and signed): the stored {"type", "timestamp", "data"}."""
    return json.dumps(delivery.payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def headers_for(secret: str, delivery: Delivery, body: bytes, at: datetime) -> dict[str, str]:
    """The event's `webhook-id` (same on every retry), this attempt's time, and the signature."""
    event_id = str(delivery.event_id)
    signature = Webhook(secret).sign(event_id, at, body.decode())
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
