"""What the providers show as sent: Evolution /chat/findMessages, GreenAPI lastOutgoingMessages.

A send whose answer was lost (the crash window) is found here, as on the real providers.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from aiohttp import web

from sandbox.errors import bad_request, schema_error, validation_failed
from sandbox.evolution import instance_for, read_body
from sandbox.evolution_sim import RECEIPT_STATUS
from sandbox.greenapi_sim import GreenApiSim
from sandbox.state import EVOLUTION, GREENAPI, SANDBOX_KEY, GreenInstance, Message, Sandbox

routes = web.RouteTableDef()
DEFAULT_PAGE_SIZE = 50  # Evolution's `offset` (its name for the page size) when none is given
DEFAULT_MINUTES = 1440  # lastOutgoingMessages without ?minutes= (GreenAPI docs)
RECORD_FIELDS = ("key", "pushName", "messageType", "message", "messageTimestamp", "instanceId")


@routes.post("/chat/findMessages/{instance}")
async def find_messages(request: web.Request) -> web.Response:
    """Stored messages, newest first: `{"messages": {total, pages, currentPage, records}}` (2.3)."""
    sb = request.app[SANDBOX_KEY]
    inst = instance_for(request)
    body = await read_body(request)
    where, key = _where(body)
    page, size = _positive(body, "page", 1), _positive(body, "offset", DEFAULT_PAGE_SIZE)
    window = _window(where.get("messageTimestamp"))
    found = [
        m
        for m in _newest_first(sb)
        if m.provider == EVOLUTION
        and m.saved
        and m.payload.get("instanceId") == inst.id
        and _key_matches(m.payload.get("key") or {}, key)
        and where.get("messageType") in (None, m.payload.get("messageType"))
        and (window is None or window[0] <= m.payload["messageTimestamp"] <= window[1])
    ]
    found.sort(key=lambda m: m.payload["messageTimestamp"], reverse=True)  # stable: ties stay
    chunk = found[size * (page - 1) : size * page]
    return web.json_response(
        {
            "messages": {
                "total": len(found),
                "pages": math.ceil(len(found) / size),
                "currentPage": page,
                "records": [_record(m) for m in chunk],
            }
        }
    )


def _where(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `where` object and its `key` filter, checked as messageValidateSchema does."""
    where = body.get("where") or {}
    if not isinstance(where, dict):
        raise schema_error("where is not of a type(s) object")
    key = where.get("key") or {}
    if not isinstance(key, dict):
        raise schema_error("where.key is not of a type(s) object")
    for name in ("id", "remoteJid", "remoteJidAlt"):
        if name in key and (not isinstance(key[name], str) or not key[name]):
            raise schema_error(f"where.key.{name} The property cannot be empty")
    if "fromMe" in key and not isinstance(key["fromMe"], bool):
        raise schema_error("where.key.fromMe is not of a type(s) boolean")
    return where, key


def _positive(body: dict[str, Any], name: str, default: int) -> int:
    """A positive integer field (`page`, `offset`), or its default."""
    value = body.get(name) or default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise schema_error(f"{name} is not of a type(s) integer")
    return value


def _window(value: Any) -> tuple[int, int] | None:
    """Epoch-second bounds; Evolution applies the window only when both gte and lte are given."""
    if not isinstance(value, dict) or not value.get("gte") or not value.get("lte"):
        return None
    return _seconds(value["gte"]), _seconds(value["lte"])


def _seconds(value: Any) -> int:
    """Whole seconds of a time as JavaScript's `new Date(value)` reads it: ISO text or epoch ms."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return math.floor(value / 1000)
        return math.floor(datetime.fromisoformat(str(value)).timestamp())
    except (TypeError, ValueError, OverflowError) as exc:
        raise bad_request(f"Invalid time value: {value!r}") from exc


def _key_matches(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """2.3's key filters: id; fromMe only when true; remoteJid OR remoteJidAlt."""
    if "id" in wanted and stored.get("id") != wanted["id"]:
        return False
    if wanted.get("fromMe") and stored.get("fromMe") is not True:
        return False
    jids = [(name, wanted[name]) for name in ("remoteJid", "remoteJidAlt") if name in wanted]
    return not jids or any(stored.get(name) == jid for name, jid in jids)


def _record(msg: Message) -> dict[str, Any]:
    """One Message row as findMessages selects it, with its receipts as MessageUpdate rows."""
    payload = msg.payload
    return {
        "id": msg.db_id,
        **{name: payload.get(name) for name in RECORD_FIELDS},
        "source": payload.get("source", "unknown"),
        "contextInfo": payload.get("contextInfo"),
        "MessageUpdate": [{"status": RECEIPT_STATUS[status]} for status in msg.receipts],
    }


async def last_outgoing_messages(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """lastOutgoingMessages: sends that left in the last `minutes`, newest first (GreenAPI docs)."""
    raw = request.query.get("minutes", str(DEFAULT_MINUTES))
    if not raw.isdigit() or int(raw) < 1:
        raise validation_failed('"minutes" must be a positive integer')
    now = sb.clock.now()
    since, visible = now - int(raw) * 60, now - sb.config.greenapi_journal_delay
    sent = [
        m
        for m in _newest_first(sb)
        if m.provider == GREENAPI
        and m.instance == str(inst.id)
        and m.direction == "outbound"
        and m.sent_at is not None
        and since <= m.sent_at <= visible
    ]
    sent.sort(key=lambda m: m.sent_at or 0, reverse=True)  # stable: ties stay newest first
    return [_journal_item(m) for m in sent]


def _newest_first(sb: Sandbox) -> list[Message]:
    """Every message, the latest made first (the order ties keep when sorted by time)."""
    return list(reversed(sb.store.messages.values()))


def _journal_item(msg: Message) -> dict[str, Any]:
    """One outgoing journal entry: the message's content flat, its last status and action time."""
    data = GreenApiSim.outgoing_data(msg)
    content: dict[str, Any] = dict(data.get("fileMessageData") or {})
    if "extendedTextMessageData" in data:
        content = {
            "textMessage": msg.text or "",
            "extendedTextMessage": data["extendedTextMessageData"],
        }
    return {
        "type": "outgoing",
        "idMessage": msg.id,
        "timestamp": int(msg.last_action_at or msg.sent_at or msg.created_at),
        "typeMessage": data["typeMessage"],
        "chatId": msg.chat,
        **content,
        "statusMessage": msg.receipts[-1] if msg.receipts else "pending",
        "sendByApi": True,
        "deletedMessageId": "",
        "editedMessageId": "",
        "isEdited": False,
        "isDeleted": False,
    }
