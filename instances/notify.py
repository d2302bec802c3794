"""Emails to a tenant's owners and admins about their numbers."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

from tenants.models import Membership

from .models import Number

logger = logging.getLogger(__name__)

SUBJECTS = {
    "logged_out": "WhatsApp number {name} was logged out — scan again to reconnect",
    "banned": "WhatsApp number {name} was banned or blocked by WhatsApp",
    "paused": "WhatsApp number {name} was paused after repeated send failures",
    "quota_exceeded": "WhatsApp number {name} reached its provider plan's quota",
}


def admin_emails(number: Number) -> list[str]:
    """The email addresses of the tenant's owners and admins."""
    roles = [Membership.Role.OWNER, Membership.Role.ADMIN]
    return sorted(
        {
            m.user.email
            for m in Membership.objects.filter(
                tenant_id=number.tenant_id, role__in=roles
            ).select_related("user")
            if m.user.email
        }
    )


def email_admins(number: Number, status: str) -> None:
    """Tell the tenant's admins that a number needs attention."""
    recipients = admin_emails(number)
    if not recipients:
        logger.warning("number %s is %s and its tenant has no admin email", number.pk, status)
        return
    subject = SUBJECTS.get(status, "WhatsApp number {name} needs attention").format(
        name=number.name
    )
    body = (
        f"{subject}.\n\nNumber: {number.name} ({number.phone_number or 'no phone yet'})\n"
        f"Status: {status} ({number.status_reason or 'no reason given'})\n\n"
        f"Open {settings.PUBLIC_BASE_URL}/numbers/{number.pk}/connect/ to link it again."
    )
    send_mail(subject, body, None, recipients, fail_silently=False)
