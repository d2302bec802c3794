"""Evolution API v2's own vocabulary: states, Baileys close codes and message statuses."""

from __future__ import annotations

from typing import Any

from providers.events import (
    UNKNOWN_STATE,
    UNKNOWN_STATUS,
    ConnectionStatus,
    MessageStatus,
    StateMapping,
    StateReason,
    StatusMapping,
    as_int,
)

_S = ConnectionStatus
_R = StateReason
_M = MessageStatus

EVOLUTION_STATES: dict[str, StateMapping] = {
    "open": StateMapping(_S.CONNECTED, _R.NONE),
    "connecting": StateMapping(_S.CONNECTING, _R.NONE),
    "close": StateMapping(_S.DISCONNECTED, _R.NONE),
    # `refused` follows the QR limit; Evolution then logs the socket out (reference 1.6).
    "refused": StateMapping(_S.DISCONNECTED, _R.QR_EXPIRED),
}

# Baileys DisconnectReason codes on `close` (reference 1.6); Evolution auto-reconnects all but
# 401/403/402/406, so those four are the ones that need a new scan or an operator.
EVOLUTION_CLOSE_CODES: dict[int, StateMapping] = {
    401: StateMapping(_S.LOGGED_OUT, _R.LOGGED_OUT),
    402: StateMapping(_S.ERROR, _R.UNRECOVERABLE),
    403: StateMapping(_S.BANNED, _R.FORBIDDEN),
    406: StateMapping(_S.ERROR, _R.UNRECOVERABLE),
    408: StateMapping(_S.DISCONNECTED, _R.CONNECTION_LOST),
    411: StateMapping(_S.ERROR, _R.MULTIDEVICE_MISMATCH),
    428: StateMapping(_S.DISCONNECTED, _R.CONNECTION_LOST),
    440: StateMapping(_S.DISCONNECTED, _R.CONNECTION_REPLACED),
    500: StateMapping(_S.ERROR, _R.BAD_SESSION),
    503: StateMapping(_S.DISCONNECTED, _R.SERVICE_UNAVAILABLE),
    515: StateMapping(_S.DISCONNECTED, _R.RESTART_REQUIRED),
}

# Evolution renders Baileys' numeric ack as these names (reference 1.6, src/utils/renderStatus.ts).
EVOLUTION_STATUSES: dict[str, StatusMapping] = {
    "ERROR": StatusMapping(_M.FAILED, "error"),
    "PENDING": StatusMapping(_M.QUEUED),
    "SERVER_ACK": StatusMapping(_M.SENT),
    "DELIVERY_ACK": StatusMapping(_M.DELIVERED),
    "READ": StatusMapping(_M.READ),
    "PLAYED": StatusMapping(_M.PLAYED),
    # DELETED is Evolution's fallback when Baileys gives no status, not a deletion (reference 1.6).
    "DELETED": UNKNOWN_STATUS,
}
EVOLUTION_ACK_NAMES: dict[int, str] = {
    0: "ERROR",
    1: "PENDING",
    2: "SERVER_ACK",
    3: "DELIVERY_ACK",
    4: "READ",
    5: "PLAYED",
}


def evolution_connection_state(state: str | None, status_reason: Any = None) -> StateMapping:
    """Translate an Evolution `state` (+ Baileys `statusReason`) to ours."""
    if not state:
        # connectionState omits `state` for an instance in the DB but not loaded (reference 1.3).
        return StateMapping(_S.DISCONNECTED, _R.NOT_LOADED)
    code = as_int(status_reason)
    if state == "close" and code not in (None, 200):
        return EVOLUTION_CLOSE_CODES.get(code, StateMapping(_S.DISCONNECTED, _R.UNKNOWN_REASON))
    return EVOLUTION_STATES.get(state, UNKNOWN_STATE)


def evolution_message_status(value: str | int | None) -> StatusMapping:
    """Translate an Evolution status name or Baileys numeric ack to ours."""
    code = as_int(value)
    name = EVOLUTION_ACK_NAMES.get(code, "") if code is not None else str(value or "").upper()
    return EVOLUTION_STATUSES.get(name, UNKNOWN_STATUS)
