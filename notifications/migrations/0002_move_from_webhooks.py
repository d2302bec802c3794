"""Move tenants' endpoints and deliveries from the webhooks app, secrets in Standard Webhooks form.

Old secrets were `whsec_` + URL-safe base64 of 32 random bytes (no padding). Standard Webhooks
reads the part after `whsec_` as standard base64, so each secret is rewritten as the SAME 32 bytes
in standard base64 (`-` → `+`, `_` → `/`, `=` padding): signatures use the key the tenant was
given, and a tenant can convert the secret it stored the same way (README changelog). A secret
that is not URL-safe base64 keeps its text's bytes as the key.
"""

import base64
import binascii

from typing import Any

from django.db import migrations


def standard_secret(old: str) -> str:
    """The whsec_ form of an old secret's key."""
    text = old.removeprefix("whsec_")
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = text.encode()
    if not key:
        key = text.encode() or b"\0"
    return "whsec_" + base64.b64encode(key).decode()


def new_body(old: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(event id, Standard Webhooks body) of an old envelope {"id", "type", "created_at", "data"}."""
    body = {"type": old.get("type"), "timestamp": old.get("created_at"), "data": old.get("data")}
    return old.get("id"), body


def forwards(apps: Any, schema_editor: Any) -> None:
    OldEndpoint = apps.get_model("webhooks", "Endpoint")
    OldDelivery = apps.get_model("webhooks", "Delivery")
    Endpoint = apps.get_model("notifications", "Endpoint")
    Delivery = apps.get_model("notifications", "Delivery")
    for old in OldEndpoint.objects.all().iterator():
        Endpoint.objects.create(
            id=old.id,
            tenant_id=old.tenant_id,
            url=old.url,
            secret=standard_secret(old.secret),
            event_types=old.event_types,
            is_active=old.is_active,
            created_at=old.created_at,
        )
    batch = []
    for old in OldDelivery.objects.all().iterator(chunk_size=1000):
        event_id, body = new_body(old.payload if isinstance(old.payload, dict) else {})
        fields = {"event_id": event_id} if event_id else {}
        batch.append(
            Delivery(
                id=old.id,
                endpoint_id=old.endpoint_id,
                event_type=old.event_type,
                payload=body,
                status=old.status,
                attempts=old.attempts,
                next_attempt_at=old.next_attempt_at,
                last_response_code=old.last_response_code,
                last_error=old.last_error,
                delivered_at=old.delivered_at,
                **fields,
            )
        )
        if len(batch) >= 1000:
            Delivery.objects.bulk_create(batch)
            batch = []
    Delivery.objects.bulk_create(batch)
    # auto_now_add stamped the copies with today; keep each delivery's own creation time.
    for old in OldDelivery.objects.values("id", "created_at").iterator(chunk_size=1000):
        Delivery.objects.filter(id=old["id"]).update(created_at=old["created_at"])
    for old in OldEndpoint.objects.values("id", "created_at"):
        Endpoint.objects.filter(id=old["id"]).update(created_at=old["created_at"])


def backwards(apps: Any, schema_editor: Any) -> None:
    OldEndpoint = apps.get_model("webhooks", "Endpoint")
    OldDelivery = apps.get_model("webhooks", "Delivery")
    Endpoint = apps.get_model("notifications", "Endpoint")
    Delivery = apps.get_model("notifications", "Delivery")
    for new in Endpoint.objects.all().iterator():
        key = base64.b64decode(new.secret.removeprefix("whsec_"))
        OldEndpoint.objects.create(
            id=new.id,
            tenant_id=new.tenant_id,
            url=new.url,
            secret="whsec_" + base64.urlsafe_b64encode(key).decode().rstrip("="),
            event_types=[t for t in new.event_types if t != "message.updated"],
            is_active=new.is_active,
        )
    for row in Delivery.objects.all().iterator(chunk_size=1000):
        payload = row.payload or {}
        OldDelivery.objects.create(
            id=row.id,
            endpoint_id=row.endpoint_id,
            event_type=row.event_type,
            payload={
                "id": str(row.event_id),
                "type": payload.get("type"),
                "created_at": payload.get("timestamp"),
                "data": payload.get("data"),
            },
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_response_code=row.last_response_code,
            last_error=row.last_error,
            delivered_at=row.delivered_at,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("webhooks", "0002_outbound_endpoints"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
