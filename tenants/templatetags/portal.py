"""Template filters every portal page uses: one phone format everywhere."""

from __future__ import annotations

import phonenumbers
from django import template

from providers.base import digits_only, jid_digits

register = template.Library()


@register.filter
def phone(value: object) -> str:
    """`5511988887777`, `+55 11 98888-7777` or a JID as `+55 11 98888-7777`; "" when empty."""
    return format_phone(str(value or ""))


def format_phone(value: str) -> str:
    """International format by the number's country code; `+digits` when it is not a number."""
    if "@" in value and not value.endswith(("@s.whatsapp.net", "@c.us")):
        return value
    digits = jid_digits(value) if "@" in value else digits_only(value)
    if not digits:
        return ""
    try:
        parsed = phonenumbers.parse(f"+{digits}")
    except phonenumbers.NumberParseException:
        return f"+{digits}"
    if not phonenumbers.is_possible_number(parsed):
        return f"+{digits}"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@register.filter
def manages(user: object, tenant: object) -> bool:
    """Whether the user is an owner or admin of the tenant (for showing action links)."""
    from tenants.access import can_manage, membership_of
    from tenants.models import Tenant

    if not isinstance(tenant, Tenant):
        return False
    return can_manage(membership_of(user, tenant))  # type: ignore[arg-type]
