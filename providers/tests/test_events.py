"""The normalized vocabulary: provider states and statuses mapped as tables, unknowns included."""

from __future__ import annotations

from typing import Any

import pytest

from providers.events import (
    CallReceived,
    ChangeKind,
    ConnectionChanged,
    ConnectionStatus,
    EventType,
    InstanceRemoved,
    InvalidEvent,
    MessageChanged,
    MessageReceived,
    MessageSent,
    MessageStatus,
    MessageStatusChanged,
    QrCode,
    QrUpdated,
    QuotaExceeded,
    StateReason,
    UnknownEvent,
    status_can_advance,
)
from providers.evolution_states import (
    EVOLUTION_CLOSE_CODES,
    EVOLUTION_STATES,
    evolution_connection_state,
    evolution_message_status,
)
from providers.greenapi_states import (
    GREENAPI_STATES,
    GREENAPI_STATUSES,
    greenapi_connection_state,
    greenapi_message_status,
)

S = ConnectionStatus
R = StateReason
M = MessageStatus


@pytest.mark.parametrize(
    ("state", "code", "status", "reason"),
    [
        ("open", 200, S.CONNECTED, R.NONE),
        ("open", None, S.CONNECTED, R.NONE),
        ("connecting", 200, S.CONNECTING, R.NONE),
        ("close", None, S.DISCONNECTED, R.NONE),
        ("close", 200, S.DISCONNECTED, R.NONE),
        ("close", 401, S.LOGGED_OUT, R.LOGGED_OUT),
        ("close", "401", S.LOGGED_OUT, R.LOGGED_OUT),
        ("close", 402, S.ERROR, R.UNRECOVERABLE),
        ("close", 403, S.BANNED, R.FORBIDDEN),
        ("close", 406, S.ERROR, R.UNRECOVERABLE),
        ("close", 408, S.DISCONNECTED, R.CONNECTION_LOST),
        ("close", 411, S.ERROR, R.MULTIDEVICE_MISMATCH),
        ("close", 428, S.DISCONNECTED, R.CONNECTION_LOST),
        ("close", 440, S.DISCONNECTED, R.CONNECTION_REPLACED),
        ("close", 500, S.ERROR, R.BAD_SESSION),
        ("close", 503, S.DISCONNECTED, R.SERVICE_UNAVAILABLE),
        ("close", 515, S.DISCONNECTED, R.RESTART_REQUIRED),
        ("close", 499, S.DISCONNECTED, R.UNKNOWN_REASON),
        ("close", "weird", S.DISCONNECTED, R.NONE),
        ("refused", 428, S.DISCONNECTED, R.QR_EXPIRED),
        (None, None, S.DISCONNECTED, R.NOT_LOADED),
        ("", None, S.DISCONNECTED, R.NOT_LOADED),
        ("opening", 200, S.ERROR, R.UNKNOWN_STATE),
        ("OPEN", None, S.ERROR, R.UNKNOWN_STATE),
    ],
)
def test_evolution_connection_states(
    state: str | None, code: Any, status: ConnectionStatus, reason: StateReason
) -> None:
    assert evolution_connection_state(state, code) == (status, reason)


@pytest.mark.parametrize(
    ("state", "status", "reason"),
    [
        ("authorized", S.CONNECTED, R.NONE),
        ("notAuthorized", S.DISCONNECTED, R.WAITING_SCAN),
        ("blocked", S.BANNED, R.BLOCKED),
        ("sleepMode", S.PAUSED, R.PHONE_OFFLINE),
        ("starting", S.CONNECTING, R.STARTING),
        ("yellowCard", S.PAUSED, R.SPAM_SUSPECTED),
        ("suspended", S.ERROR, R.UNKNOWN_STATE),
        ("", S.ERROR, R.UNKNOWN_STATE),
        (None, S.ERROR, R.UNKNOWN_STATE),
    ],
)
def test_greenapi_connection_states(
    state: str | None, status: ConnectionStatus, reason: StateReason
) -> None:
    assert greenapi_connection_state(state) == (status, reason)


def test_every_documented_provider_state_has_a_row() -> None:
    assert set(EVOLUTION_STATES) == {"open", "connecting", "close", "refused"}
    assert {401, 403, 408, 411, 428, 440, 500, 503, 515} <= set(EVOLUTION_CLOSE_CODES)
    assert set(GREENAPI_STATES) == {
        "authorized",
        "notAuthorized",
        "blocked",
        "sleepMode",
        "starting",
        "yellowCard",
    }
    assert set(GREENAPI_STATUSES) == {
        "sent",
        "delivered",
        "read",
        "failed",
        "noAccount",
        "notInGroup",
        "yellowCard",
    }


@pytest.mark.parametrize(
    ("value", "status", "reason"),
    [
        ("ERROR", M.FAILED, "error"),
        ("PENDING", M.QUEUED, ""),
        ("SERVER_ACK", M.SENT, ""),
        ("DELIVERY_ACK", M.DELIVERED, ""),
        ("READ", M.READ, ""),
        ("PLAYED", M.PLAYED, ""),
        ("read", M.READ, ""),
        (0, M.FAILED, "error"),
        (1, M.QUEUED, ""),
        (2, M.SENT, ""),
        (3, M.DELIVERED, ""),
        (4, M.READ, ""),
        (5, M.PLAYED, ""),
        ("3", M.DELIVERED, ""),
        ("DELETED", M.UNKNOWN, ""),
        ("SOMETHING_NEW", M.UNKNOWN, ""),
        (9, M.UNKNOWN, ""),
        (None, M.UNKNOWN, ""),
    ],
)
def test_evolution_message_statuses(value: Any, status: MessageStatus, reason: str) -> None:
    assert evolution_message_status(value) == (status, reason)


@pytest.mark.parametrize(
    ("value", "status", "reason"),
    [
        ("sent", M.SENT, ""),
        ("delivered", M.DELIVERED, ""),
        ("read", M.READ, ""),
        ("failed", M.FAILED, "error"),
        ("noAccount", M.FAILED, "not_on_whatsapp"),
        ("notInGroup", M.FAILED, "not_in_group"),
        ("yellowCard", M.QUEUED, "spam_suspected"),
        ("played", M.UNKNOWN, ""),
        (None, M.UNKNOWN, ""),
    ],
)
def test_greenapi_message_statuses(value: str | None, status: MessageStatus, reason: str) -> None:
    assert greenapi_message_status(value) == (status, reason)


@pytest.mark.parametrize(
    ("current", "incoming", "applies"),
    [
        (M.QUEUED, M.SENT, True),
        (M.SENT, M.DELIVERED, True),
        (M.DELIVERED, M.READ, True),
        (M.READ, M.PLAYED, True),
        (M.QUEUED, M.READ, True),
        (M.READ, M.DELIVERED, False),
        (M.PLAYED, M.READ, False),
        (M.DELIVERED, M.DELIVERED, False),
        (M.QUEUED, M.FAILED, True),
        (M.SENT, M.FAILED, True),
        (M.DELIVERED, M.FAILED, False),
        (M.FAILED, M.READ, False),
        (M.SENT, M.UNKNOWN, False),
        (M.UNKNOWN, M.SENT, True),
    ],
)
def test_the_status_ladder_never_moves_back(
    current: MessageStatus, incoming: MessageStatus, applies: bool
) -> None:
    assert status_can_advance(current, incoming) is applies


@pytest.mark.parametrize(
    "image",
    ["iVBORw0KGgo=", "data:image/png;base64,iVBORw0KGgo=", "  iVBORw0KGgo=\n"],
)
def test_a_qr_is_always_a_png_data_url(image: str) -> None:
    assert QrCode.from_image(image).data_url == "data:image/png;base64,iVBORw0KGgo="


def test_events_keep_their_raw_payload_and_type() -> None:
    raw = {"event": "something.new", "data": {"x": 1}}
    events = [
        ConnectionChanged(provider="evolution", instance="acme", raw=raw, status=S.CONNECTED),
        QrUpdated(provider="evolution", instance="acme", raw=raw, qr=QrCode.from_image("QQ==")),
        MessageReceived(
            provider="greenapi", instance="1101", raw=raw, message_id="m1", chat_id="1@c.us"
        ),
        MessageStatusChanged(
            provider="greenapi", instance="1101", raw=raw, message_id="m1", status=M.READ
        ),
        MessageSent(
            provider="evolution",
            instance="acme",
            raw=raw,
            message_id="m2",
            chat_id="1@s.whatsapp.net",
        ),
        MessageChanged(
            provider="greenapi", instance="1101", raw=raw, change=ChangeKind.EDITED, message_id="m1"
        ),
        CallReceived(provider="evolution", instance="acme", raw=raw, call_id="c1", chat_id="1@lid"),
        InstanceRemoved(provider="evolution", instance="acme", raw=raw),
        QuotaExceeded(provider="greenapi", instance="1101", raw=raw, quota="correspondents"),
        UnknownEvent(provider="evolution", instance="acme", raw=raw, name="something.new"),
        InvalidEvent(provider="evolution", instance="acme", raw=raw, reason="data: a list"),
    ]
    assert [event.type for event in events] == list(EventType)
    assert all(event.raw is raw for event in events)
