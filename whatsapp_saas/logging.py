"""Log filters: a request id on every record, and masking of phone numbers and secrets."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar

from providers.masking import SENSITIVE_NAMES

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# Standard LogRecord attributes; anything else on a record came from `extra=` and is masked too.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

_PHONE = re.compile(
    r"(?<![\w.\-])(?:\+?\d[\d \-]{6,18}\d|\d{8,15})(?=@(?:s\.whatsapp\.net|c\.us|lid|g\.us))"
    r"|(?<![\w.\-+])\+\d[\d \-]{6,18}\d(?![\w\-])"
    r"|(?<![\w.\-+])\d{8,15}(?![\w\-])"
)
_SECRETS = [
    # Our API keys: wa_<public prefix>_<secret>.
    (re.compile(r"\b(wa_[0-9a-f]{8}_)[A-Za-z0-9_\-]+"), r"\1****"),
    # Capability URLs /webhooks/<provider>/<token>/: all that follows the provider, or all that
    # follows /webhooks/ when the path is malformed (`/webhooks//<token>/` in a 404 line).
    (re.compile(r"(/webhooks/(?:[a-z]{2,20}/(?=[^/\s]))?)[^\s\"']+"), r"\1****"),
    # GreenAPI puts the instance token in the path: /waInstance{id}/{method}/{token}.
    (re.compile(r"(/waInstance\d+/\w+/)[^/\s?\"']+"), r"\1****"),
    # Secrets in query strings, headers, JSON and key=value pairs: the names nested data masks.
    (
        re.compile(
            rf"(?i)((?:{SENSITIVE_NAMES})\w*[\"']?\s*[:=]\s*[\"']?(?:Bearer\s+)?)[^\s&\"',;}}]+"
        ),
        r"\1****",
    ),
    (re.compile(r"(?i)(Bearer\s+)[A-Za-z0-9._\-~+/=]+"), r"\1****"),
]


def mask(text: str) -> str:
    """Hide secrets and all but the last four digits of phone numbers."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return _PHONE.sub(lambda m: "****" + re.sub(r"\D", "", m.group(0))[-4:], text)


class MaskSecretsFilter(logging.Filter):
    """Mask the message, its arguments, any `extra` values and the traceback of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        record.msg = mask(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and not isinstance(value, (int, float, bool, type(None))):
                setattr(record, name, mask(str(value)))
        return True


class RequestIdFilter(logging.Filter):
    """Put the current request id (or "-") on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `request_id` unless the caller set one."""
        if not hasattr(record, "request_id"):
            # django.request logs errors after the middleware has returned: read the request's id.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        return True
