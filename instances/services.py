"""The only code that changes a number: provisioning, connecting, status, deletion, sync."""

from __future__ import annotations

import copy
import logging
import secrets
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from providers.base import ProviderGateway, jid_digits
from providers.errors import ProviderError, ProviderNotFoundError, ProviderOperationFailedError
from providers.events import ConnectionStatus as S
from providers.events import QrCode
from providers.events import StateReason as R
from providers.registry import all_credential_fields, credential_fields, get_gateway
from providers.types import ConnectionState, ConnectResult, InstanceRef, WebhookConfig
from tenants.models import Tenant
from whatsapp_saas import metrics
from whatsapp_saas.domain_events import NUMBER_STATUS, DomainEvent, emit

from . import notify
from .credentials import check_credentials
from .errors import InvalidCredentials, NumberError, QuotaExceeded
from .models import ConnectionEvent, Number

logger = logging.getLogger(__name__)
__all__ = ["InvalidCredentials", "NumberError", "QuotaExceeded"]
Source = ConnectionEvent.Source

QR_TTL = timedelta(seconds=60)
CONNECT_WINDOW = timedelta(minutes=5)
# Statuses a provider's "connecting"/"close" must not overwrite while the user is scanning.
SCANNING = {S.QR_PENDING}
NEEDS_ADMIN = {S.LOGGED_OUT, S.BANNED}
# A plan quota spent at the provider (GreenAPI quotaExceeded): the number stays as it is.
QUOTA_EXCEEDED = "quota_exceeded"


def gateway_for(number: Number) -> ProviderGateway:
    """The number's provider gateway, through the registry."""
    return get_gateway(number.provider)


def webhook_config(number: Number) -> WebhookConfig:
    """Where the provider posts this number's events, and the secret it presents."""
    url = f"{settings.PUBLIC_BASE_URL}/webhooks/{number.provider}/{number.webhook_token}/"
    return WebhookConfig(url=url, secret=number.webhook_secret)


# ------------------------------------------------------------------ status: the one function


def change_status(
    number: Number, status: S, reason: str = "", source: str = Source.API, **fields: Any
) -> Number:
    """Set a number's status (and fields) under a row lock; record one event per transition."""
    with transaction.atomic():
        locked = Number.objects.select_for_update().get(pk=number.pk)
        previous, now = locked.status, timezone.now()
        changed = (previous, locked.status_reason) != (status, reason)
        scan_started = locked.connect_started_at
        for name, value in {**fields, **stamps(locked, status, now)}.items():
            setattr(locked, name, value)
        locked.status, locked.status_reason = status, reason
        if changed:
            locked.status_changed_at = now
            ConnectionEvent.objects.create(
                number=locked, from_status=previous, to_status=status, reason=reason, source=source
            )
        locked.save()
        if changed and status != previous:
            transaction.on_commit(
                partial(
                    metrics.status_changed, locked.provider, previous, status, reason, scan_started
                )
            )
            emit(DomainEvent(NUMBER_STATUS, locked.tenant_id, copy.copy(locked)))
        if changed and status in NEEDS_ADMIN and previous not in NEEDS_ADMIN:
            transaction.on_commit(lambda: notify.email_admins(locked, status))
    number.__dict__.update(locked.__dict__)
    return locked


def stamps(number: Number, status: S, now: Any) -> dict[str, Any]:
    """Timestamps and cleared fields that go with entering a status."""
    if status == S.CONNECTED:
        fields: dict[str, Any] = {
            "qr_code": "",
            "qr_expires_at": None,
            "pairing_code": "",
            "pairing_code_expires_at": None,
            "connect_started_at": None,
            "last_error": "",
        }
        if number.status != S.CONNECTED:
            fields["connected_at"] = now
        return fields
    if status in {S.DISCONNECTED, S.LOGGED_OUT, S.BANNED, S.ERROR} and number.status != status:
        clear = {
            "qr_code": "",
            "qr_expires_at": None,
            "pairing_code": "",
            "pairing_code_expires_at": None,
            "connect_started_at": None,
        }
        return {**clear, "disconnected_at": now} if number.status == S.CONNECTED else clear
    return {}


# ------------------------------------------------------------------ create and provision


def create_number(
    tenant: Tenant,
    *,
    name: str,
    provider: str,
    purpose: str = "",
    phone_number: str = "",
    created_by: Any = None,
    **credentials: str,
) -> Number:
    """Write the row first (quota checked under a lock on the tenant), then provision it.

    `credentials` are the provider's declared credential fields (providers.registry), by name;
    empty fields of other providers (a form shows them all) are ignored. Instances made in the
    provider's console (GreenAPI) have them checked first: rejected ones raise
    InvalidCredentials and nothing is created.
    """
    gateway = get_gateway(provider)
    instance_name = gateway.new_instance_name(tenant.slug)
    ref_fields = credential_columns(provider, credentials)
    if not gateway.provisions_instances:
        check_credentials(
            provider,
            gateway,
            InstanceRef(
                ref_fields.get("provider_instance_id", ""),
                ref_fields.get("provider_token", ""),
                ref_fields.get("provider_api_url", ""),
            ),
        )
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if Number.objects.filter(tenant=locked).live().count() >= locked.max_numbers:
            raise QuotaExceeded(
                f"This workspace may have at most {locked.max_numbers} numbers.",
                code="quota_exceeded",
            )
        number = Number.objects.create(
            tenant=locked,
            name=name,
            purpose=purpose,
            provider=provider,
            created_by=created_by,
            phone_number=phone_number,
            instance_name=instance_name,
            status_changed_at=timezone.now(),
            **ref_fields,
        )
        ConnectionEvent.objects.create(
            number=number, from_status="", to_status=S.PROVISIONING, source=Source.API
        )
    return provision(number)


# The Number column that holds each part of an InstanceRef (providers.types.CredentialField).
REF_COLUMNS = {
    "external_id": "provider_instance_id",
    "token": "provider_token",
    "api_url": "provider_api_url",
}


def credential_columns(provider: str, given: dict[str, str]) -> dict[str, str]:
    """Number columns from a provider's credential fields; unknown names are a programming error."""
    known = {field.name: field for _, field in all_credential_fields()}
    unknown = set(given) - set(known)
    if unknown:
        raise TypeError(f"unknown credential fields: {sorted(unknown)}")
    own = {field.name for field in credential_fields(provider)}
    return {
        REF_COLUMNS[known[name].part]: value
        for name, value in given.items()
        if name in own and value
    }


def provision(number: Number, source: str = Source.API) -> Number:
    """Create (or adopt) the provider instance; on failure leave the number `error` with why."""
    try:
        created = gateway_for(number).create_instance(provider_ref(number), webhook_config(number))
    except ProviderError as exc:
        logger.warning("provisioning %s failed: %s", number.instance_name, exc)
        return change_status(number, S.ERROR, "provider_error", source, last_error=str(exc)[:500])
    return change_status(
        number,
        initial_status(created.state),
        created.state.reason,
        source,
        provider_instance_id=created.ref.external_id,
        last_error="",
        provider_token=created.ref.token or number.provider_token,
    )


def provider_ref(number: Number) -> InstanceRef:
    """The reference to provision with: GreenAPI's console id, or our instance name."""
    if number.provider_instance_id:
        return number.ref
    return InstanceRef(
        external_id=number.instance_name,
        token=number.provider_token,
        api_url=number.provider_api_url,
    )


def initial_status(state: ConnectionState) -> S:
    """A fresh instance that is not connected is simply disconnected."""
    return state.status if state.status in {S.CONNECTED, S.BANNED} else S.DISCONNECTED


# ------------------------------------------------------------------ connect


def connect(
    number: Number, *, method: str = "qr", phone_number: str = "", source: str = Source.API
) -> Number:
    """Ask the provider for a QR or a pairing code and show it; 409 when already connected."""
    if number.status == S.CONNECTED:
        raise NumberError("This number is already connected; disconnect it first.")
    if number.status in {S.PROVISIONING, S.ERROR} and not provisioned(number):
        number = provision(number, source)
        if number.status == S.ERROR:
            raise NumberError(
                f"The provider could not create this number: {number.last_error}",
                code="provider_unavailable",
            )
    result = gateway_for(number).connect(
        number.ref, pairing_number=phone_number if method == "pairing_code" else ""
    )
    return show_connect_result(number, result, source)


def provisioned(number: Number) -> bool:
    """The provider instance exists (as far as we know)."""
    return bool(number.provider_instance_id) and number.status_reason != "provider_error"


def show_connect_result(number: Number, result: ConnectResult, source: str) -> Number:
    """Store a QR or pairing code (and their expiry), or note that it is already connected."""
    if result.already_connected:
        return apply_state(number, ConnectionState(S.CONNECTED), source)
    now = timezone.now()
    fields: dict[str, Any] = {"connect_started_at": now, "last_error": ""}
    if result.qr is not None:
        fields.update(qr_code=result.qr.data_url, qr_expires_at=now + QR_TTL, qr_updated_at=now)
    if result.pairing_code:
        fields.update(
            pairing_code=result.pairing_code, pairing_code_expires_at=now + CONNECT_WINDOW
        )
    return change_status(number, S.QR_PENDING, R.WAITING_SCAN, source, **fields)


def apply_qr(
    number: Number, qr: QrCode | None, pairing_code: str = "", source: str = Source.WEBHOOK
) -> Number:
    """A fresh QR (or pairing code) from the provider; ignored once connected."""
    if number.status == S.CONNECTED or (qr is None and not pairing_code):
        return number
    now = timezone.now()
    fields: dict[str, Any] = {"connect_started_at": number.connect_started_at or now}
    if qr is not None:
        fields.update(qr_code=qr.data_url, qr_expires_at=now + QR_TTL, qr_updated_at=now)
    if pairing_code:
        fields.update(pairing_code=pairing_code, pairing_code_expires_at=now + CONNECT_WINDOW)
    return change_status(number, S.QR_PENDING, R.WAITING_SCAN, source, **fields)


def apply_state(
    number: Number,
    state: ConnectionState,
    source: str,
    *,
    phone: str = "",
    profile_name: str = "",
    occurred_at: datetime | None = None,
) -> Number:
    """A connection state from a webhook or a poll, translated to our status.

    `occurred_at` is the provider's time of a webhook event: one older than the newest applied is
    a late delivery (Evolution posts concurrently, reference 1.9) and changes nothing.
    """
    if occurred_at is not None:
        if number.last_provider_event_at and occurred_at < number.last_provider_event_at:
            return number
        Number.objects.filter(pk=number.pk).update(last_provider_event_at=occurred_at)
        number.last_provider_event_at = occurred_at
    status, reason = state.status, str(state.reason)
    if (
        number.status == S.PAUSED
        and number.status_reason == R.SEND_FAILURES
        and status in {S.CONNECTED, S.CONNECTING}
    ):
        # Paused after repeated send failures: only an operator resumes it (see `resume`).
        return touch_checked(number)
    if (
        number.status in SCANNING
        and status in {S.CONNECTING, S.DISCONNECTED}
        and reason in {R.NONE, R.WAITING_SCAN, R.NOT_LOADED}
    ):
        if status == S.DISCONNECTED and reason == R.NONE and qr_went_stale(number):
            return change_status(number, S.DISCONNECTED, R.QR_EXPIRED, source)
        return touch_checked(number)
    fields: dict[str, Any] = {"last_state_check_at": timezone.now()}
    if status == S.CONNECTED:
        reason = connected_reason(number)
        fields.update(
            phone_number=jid_digits(phone) or number.phone_number,
            profile_name=profile_name or number.profile_name,
        )
    if unchanged(number, status, str(reason), fields):
        # The common answer of a reconcile: one UPDATE instead of a locked read and a full save.
        return touch_checked(number)
    return change_status(number, status, str(reason), source, **fields)


# Evolution renews a waiting QR every 45 s; after QRCODE_LIMIT it stops and connectionState
# answers `close`, not `refused` (Corrections and additions): no fresh QR for this long is that.
QR_STALE_AFTER = timedelta(seconds=120)


def qr_went_stale(number: Number) -> bool:
    """Whether the scan's QR stopped being renewed (the provider gave the scan up)."""
    shown = number.qr_updated_at
    return shown is not None and timezone.now() - shown > QR_STALE_AFTER


def unchanged(number: Number, status: str, reason: str, fields: dict[str, Any]) -> bool:
    """The state applies nothing new: same status and reason, no field (or stamp) to change."""
    if (number.status, number.status_reason) != (status, reason):
        return False
    changes = {**fields, **stamps(number, S(status), timezone.now())}
    return all(
        getattr(number, name) == value
        for name, value in changes.items()
        if name != "last_state_check_at"
    )


def connected_reason(number: Number) -> str:
    """Why a number is connected: a completed scan, or whatever it was already."""
    if number.status == S.CONNECTED:
        return number.status_reason
    return R.SCAN_COMPLETED if number.status in SCANNING else R.NONE


def touch_checked(number: Number) -> Number:
    """Record that the state was checked, without a transition."""
    Number.objects.filter(pk=number.pk).update(last_state_check_at=timezone.now())
    return number


def check_state(number: Number, source: str = Source.POLL) -> Number:
    """Ask the provider for the live state and apply it (with the phone, when newly connected)."""
    gateway = gateway_for(number)
    state = gateway.get_state(number.ref)
    phone = profile_name = ""
    if state.status == S.CONNECTED and not (number.is_connected and number.phone_number):
        # A poll's state carries no phone (reference 1.3): read it from the instance's record.
        info = gateway.get_instance(number.ref)
        phone, profile_name = (info.phone, info.profile_name) if info else ("", "")
    return apply_state(number, state, source, phone=phone, profile_name=profile_name)


# ------------------------------------------------------------------ send health


def send_succeeded(number: Number) -> None:
    """A send went out: the count of failures in a row starts again."""
    Number.objects.filter(pk=number.pk, consecutive_send_failures__gt=0).update(
        consecutive_send_failures=0
    )


def send_failed(number: Number) -> None:
    """One more failed send in a row; at PAUSE_AFTER_FAILURES the number is paused, admins told."""
    with transaction.atomic():
        locked = Number.objects.select_for_update().get(pk=number.pk)
        locked.consecutive_send_failures += 1
        pause = locked.consecutive_send_failures >= settings.PAUSE_AFTER_FAILURES
        # Counting starts again, so an operator's resume gets a fresh allowance.
        locked.consecutive_send_failures = 0 if pause else locked.consecutive_send_failures
        locked.save(update_fields=["consecutive_send_failures"])
        if pause and locked.status != S.PAUSED:
            change_status(locked, S.PAUSED, R.SEND_FAILURES, Source.API)
            transaction.on_commit(lambda: notify.email_admins(locked, S.PAUSED))


# ------------------------------------------------------------------ disconnect, reconnect, delete


def resume(number: Number, source: str = Source.OPERATOR) -> Number:
    """Lift a pause after send failures: reset the count and take the provider's live state."""
    if number.status != S.PAUSED:
        raise NumberError("Only a paused number can be resumed.")
    number = change_status(number, S.CONNECTING, R.OPERATOR, source, consecutive_send_failures=0)
    return check_state(number, source)


def disconnect(number: Number, source: str = Source.API) -> Number:
    """Log the WhatsApp session out at the provider; the number can be linked again."""
    try:
        gateway_for(number).logout(number.ref)
    except ProviderNotFoundError:
        logger.info("logout of %s: the provider no longer has it", number.instance_name)
    return change_status(number, S.DISCONNECTED, R.OPERATOR, source)


def reconnect(number: Number, source: str = Source.API, *, relink: bool = True) -> Number:
    """Restart the provider instance, then connect again if it did not come back by itself.

    With `relink=False` it only restarts (and records it): the stalled-number task does one
    restart per stall and never shows a QR code on its own (reference R2).
    """
    gateway = gateway_for(number)
    try:
        gateway.restart(number.ref)
    except ProviderOperationFailedError:
        if not relink:
            raise
        # Evolution refuses to restart an instance that is not connected (reference 1.2): relink.
        return connect(number, source=source)
    change_status(number, S.CONNECTING, R.RESTART_REQUIRED, source, restarted_at=timezone.now())
    if not relink:
        return number
    number = apply_state(number, gateway.get_state(number.ref), source)
    if number.status in {S.CONNECTED, S.QR_PENDING}:
        return number
    return connect(number, source=source)


def restart_stalled(number: Number) -> bool:
    """Restart a number stuck connecting, once per stall; False when the provider refused.

    A refusal a retry cannot help is stamped like a restart, so the next run does not repeat it.
    """
    try:
        reconnect(number, Source.TASK, relink=False)
    except ProviderError as exc:
        logger.info("restart of stuck %s failed: %s", number.instance_name, exc)
        if not exc.retryable:
            Number.objects.filter(pk=number.pk).update(restarted_at=timezone.now())
        return False
    return True


def delete_number(number: Number, source: str = Source.API) -> bool:
    """Hide the number at once (webhooks stop finding it), then remove it at the provider and here.

    Returns False when the provider could not be reached: the number stays marked for deletion
    and `instances.tasks.finish_deletions` completes the job later.
    """
    Number.objects.filter(pk=number.pk, deletion_requested_at__isnull=True).update(
        deletion_requested_at=timezone.now()
    )
    try:
        gateway_for(number).delete_instance(number.ref)
    except ProviderNotFoundError:
        pass
    except ProviderError as exc:
        logger.warning(
            "deleting %s at the provider failed, will retry: %s", number.instance_name, exc
        )
        Number.objects.filter(pk=number.pk).update(last_error=str(exc)[:500])
        return False
    Number.objects.filter(pk=number.pk).delete()
    return True


def rotate_webhook_secret(number: Number) -> Number:
    """New webhook secret at the provider; the old one stays accepted until the next rotation."""
    with transaction.atomic():
        locked = Number.objects.select_for_update().get(pk=number.pk)
        locked.previous_webhook_secret = locked.webhook_secret
        locked.webhook_secret = secrets.token_urlsafe(32)
        locked.save(update_fields=["previous_webhook_secret", "webhook_secret", "updated_at"])
    gateway_for(locked).set_webhook(locked.ref, webhook_config(locked))
    number.__dict__.update(locked.__dict__)
    return locked


def update_number(number: Number, **fields: Any) -> Number:
    """Change a number's name, purpose or send rate."""
    allowed = {"name", "purpose", "send_rate_per_minute"}
    for name, value in fields.items():
        if name in allowed:
            setattr(number, name, value)
    number.save(update_fields=[*(set(fields) & allowed), "updated_at"])
    return number


# ------------------------------------------------------------------ provider notices


def mark_removed(number: Number, source: str = Source.WEBHOOK) -> Number:
    """The provider removed the instance: what the daily sync does for one it finds missing."""
    if number.status in (S.PROVISIONING, S.ERROR):
        return number
    return change_status(number, S.DISCONNECTED, "not_found", source)


def note_quota_exceeded(number: Number, detail: str, source: str = Source.WEBHOOK) -> Number:
    """The provider's plan quota is spent: the reason goes on the number, the admins hear of it."""
    first = number.status_reason != QUOTA_EXCEEDED
    changed = change_status(number, S(number.status), QUOTA_EXCEEDED, source)
    if first:
        logger.warning("number %s: provider quota exceeded (%s)", number.pk, detail[:200])
        transaction.on_commit(lambda: notify.email_admins(changed, QUOTA_EXCEEDED))
    return changed
