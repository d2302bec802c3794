"""Comparing our numbers with the provider's instances, and repairing webhook drift."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from providers.events import ConnectionStatus as S
from providers.registry import get_gateway, get_spec

from .models import ConnectionEvent, Number
from .services import change_status, gateway_for, webhook_config

logger = logging.getLogger(__name__)
Source = ConnectionEvent.Source


@dataclass(frozen=True)
class SyncReport:
    """What a sync with a provider's instance list found."""

    provider: str
    missing_at_provider: list[str]
    unknown_at_provider: list[str]


def sync_provider(provider: str) -> SyncReport:
    """Compare the provider's instance list with ours; ours missing there become `not_found`."""
    get_spec(provider)
    theirs = {item.ref.external_id for item in get_gateway(provider).list_instances()}
    ours = {
        n.provider_instance_id or n.instance_name: n
        for n in Number.objects.live()
        .filter(provider=provider)
        .exclude(status__in=[S.PROVISIONING, S.ERROR])
        .only("id", "instance_name", "provider_instance_id")
    }
    missing = sorted(set(ours) - theirs)
    for name in missing:
        change_status(ours[name], S.DISCONNECTED, "not_found", Source.POLL)
    unknown = sorted(theirs - set(ours) - known_names(provider))
    if unknown:
        logger.warning("%s holds %d instances we do not know: %s", provider, len(unknown), unknown)
    return SyncReport(provider, missing, unknown)


def known_names(provider: str) -> set[str]:
    """Every instance we know, in any state (being provisioned or deleted too): never "unknown"."""
    rows = Number.objects.filter(provider=provider).values_list(
        "provider_instance_id", "instance_name"
    )
    return {instance_id or name for instance_id, name in rows}


def ensure_webhook(number: Number) -> bool:
    """Re-apply the webhook configuration when the provider's has drifted; True when it did."""
    gateway, desired = gateway_for(number), webhook_config(number)
    current = gateway.get_webhook(number.ref)
    if current is not None and current.matches(desired):
        return False
    gateway.set_webhook(number.ref, desired)
    logger.warning("webhook of %s had drifted and was re-applied", number.instance_name)
    return True
