"""GreenAPI's own vocabulary: instance states and outgoing message statuses."""

from __future__ import annotations

from providers.events import (
    UNKNOWN_STATE,
    UNKNOWN_STATUS,
    ConnectionStatus,
    MessageStatus,
    StateMapping,
    StateReason,
    StatusMapping,
)

_S = ConnectionStatus
_R = StateReason
_M = MessageStatus

# GreenAPI getStateInstance / stateInstanceChanged values (reference 2.2).
GREENAPI_STATES: dict[str, StateMapping] = {
    "authorized": StateMapping(_S.CONNECTED, _R.NONE),
    "notAuthorized": StateMapping(_S.DISCONNECTED, _R.WAITING_SCAN),
    "blocked": StateMapping(_S.BANNED, _R.BLOCKED),
    "sleepMode": StateMapping(_S.PAUSED, _R.PHONE_OFFLINE),
    "starting": StateMapping(_S.CONNECTING, _R.STARTING),
    "yellowCard": StateMapping(_S.PAUSED, _R.SPAM_SUSPECTED),
}

GREENAPI_STATUSES: dict[str, StatusMapping] = {
    "sent": StatusMapping(_M.SENT),
    "delivered": StatusMapping(_M.DELIVERED),
    "read": StatusMapping(_M.READ),
    "failed": StatusMapping(_M.FAILED, "error"),
    "noAccount": StatusMapping(_M.FAILED, "not_on_whatsapp"),
    "notInGroup": StatusMapping(_M.FAILED, "not_in_group"),
    # yellowCard holds the message in GreenAPI's 24 h queue instead of sending it (reference 2.2).
    "yellowCard": StatusMapping(_M.QUEUED, "spam_suspected"),
}


def greenapi_connection_state(state: str | None) -> StateMapping:
    """Translate a GreenAPI `stateInstance` to ours."""
    return GREENAPI_STATES.get(state or "", UNKNOWN_STATE)


def greenapi_message_status(value: str | None) -> StatusMapping:
    """Translate a GreenAPI outgoingMessageStatus `status` to ours."""
    return GREENAPI_STATUSES.get(value or "", UNKNOWN_STATUS)
