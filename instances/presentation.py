"""What a number's status means for a tenant, and the next step it offers (pages only)."""

from __future__ import annotations

from dataclasses import dataclass

from providers.events import ConnectionStatus as S
from providers.events import StateReason as R

# WhatsApp's help page on account bans, which explains the in-app "Request a review".
BAN_REVIEW_URL = "https://faq.whatsapp.com/465883178708358"

REASONS = {
    R.WAITING_SCAN: "waiting for the QR code or pairing code to be used",
    R.SCAN_COMPLETED: "linked by a scan",
    R.QR_EXPIRED: "the QR code was not scanned in time",
    R.LOGGED_OUT: "the phone logged this device out",
    R.CONNECTION_LOST: "the connection to WhatsApp was lost",
    R.CONNECTION_REPLACED: "another session took over this number",
    R.RESTART_REQUIRED: "restarting",
    R.BAD_SESSION: "the stored session was unusable",
    R.MULTIDEVICE_MISMATCH: "the phone's WhatsApp version does not support linked devices",
    R.FORBIDDEN: "WhatsApp refused this account",
    R.SERVICE_UNAVAILABLE: "WhatsApp was unavailable",
    R.PHONE_OFFLINE: "the phone is offline",
    R.SPAM_SUSPECTED: "WhatsApp suspects spam",
    R.BLOCKED: "WhatsApp blocked this account",
    R.SEND_FAILURES: "too many sends failed in a row",
    R.OPERATOR: "changed by hand",
    "provider_error": "the provider could not create it",
    "not_found": "the provider no longer has this instance",
}


@dataclass(frozen=True)
class NextStep:
    """What the number page suggests: a sentence and, for owners and admins, an action."""

    meaning: str
    todo: str
    action: str = ""  # "link", "resume", "reconnect" or "" (nothing to do)
    label: str = ""


STEPS = {
    S.CONNECTED: NextStep("Linked and sending.", ""),
    S.QR_PENDING: NextStep(
        "Waiting for the QR code or pairing code to be used on the phone.",
        "Open the connect page and finish linking.",
        "link",
        "Continue linking",
    ),
    S.CONNECTING: NextStep("Connecting to WhatsApp.", "This usually takes a few seconds."),
    S.PROVISIONING: NextStep("Being created at the provider.", "This takes a few seconds."),
    S.DISCONNECTED: NextStep(
        "Not linked to a phone.", "Link it with a QR code or a pairing code.", "link", "Link"
    ),
    S.LOGGED_OUT: NextStep(
        "The phone logged this device out, so nothing can be sent or received.",
        "Link it again from WhatsApp on the phone (Linked devices).",
        "link",
        "Link again",
    ),
    S.BANNED: NextStep(
        "WhatsApp banned this account: it cannot send or receive.",
        "If you think this is a mistake, open WhatsApp on the phone and tap Request a review; "
        "once WhatsApp restores the account, link it again.",
        "link",
        "Link again",
    ),
    S.PAUSED: NextStep(
        "Sending is paused because too many messages failed in a row; queued messages wait.",
        "Check the last send failures below and fix their cause (phone offline, provider "
        "trouble, wrong recipients), then resume.",
        "resume",
        "Resume sending",
    ),
    S.ERROR: NextStep(
        "The provider reported an error for this number.",
        "Try linking it again; if it keeps failing, delete it and add it anew.",
        "link",
        "Try again",
    ),
}


def reason_text(reason: str) -> str:
    """A reason code in words (the code itself when we have no words for it)."""
    return REASONS.get(reason, reason.replace("_", " "))


def next_step(status: str) -> NextStep:
    """The guidance for a status."""
    return STEPS.get(S(status), STEPS[S.ERROR]) if status in set(S) else STEPS[S.ERROR]
