"""An email backend for the local run: each message is one INFO log record (masked like any)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger("whatsapp_saas.mail")


class LogEmailBackend(BaseEmailBackend):
    """Log instead of sending: recipients, subject and body in one record at INFO."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Log each message; all count as sent."""
        for message in email_messages:
            logger.info(
                "email to %s: %s\n%s",
                ", ".join(message.to),
                message.subject,
                message.body,
                extra={"email_to": ", ".join(message.to), "email_subject": message.subject},
            )
        return len(email_messages)
