"""What people do to messages after sending them, and calls: edits, revokes, reactions, replies.

Shapes follow the Corrections and additions of the reference: Evolution 2.3.6 sends an edit or
a revoke as `messages.edited` (the protocolMessage; a revoke has type REVOKE) and a deletion as
`messages.delete` (the key), a reaction as a `messages.upsert` of a reactionMessage and a call as
`call`; GreenAPI sends edits, deletions and reactions as message notifications of type
editedMessage / deletedMessage / reactionMessage naming the target in `stanzaId`, gated by
editedMessageWebhook / deletedMessageWebhook, and calls as `incomingCall`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.errors import ControlError
from sandbox.evolution_sim import addressed, lid_for
from sandbox.state import EVOLUTION, SANDBOX_KEY, EvoInstance, GreenInstance, Message, Sandbox

PREFIX = "/_sandbox"
routes = web.RouteTableDef()
GREEN_CALL_STATUSES = ("offer", "pickUp", "hangUp", "missed", "declined")
EVOLUTION_CALL_STATUSES = ("offer", "ringing", "timeout", "reject", "accept", "terminate")


# ------------------------------------------------------------------ inbound shapes


def inbound_shape(sb: Sandbox, provider: str, digits: str, body: dict[str, Any]) -> dict[str, Any]:
    """Group chat and quoted message of a simulated inbound message, in the provider's shape."""
    group, reply_to = body.get("group"), body.get("replyTo")
    if group is not None and not (isinstance(group, str) and group.endswith("@g.us")):
        raise ControlError(400, "group must be a group JID ending in @g.us")
    quoted = quoted_message(sb, reply_to) if reply_to is not None else None
    if provider == EVOLUTION:
        return evolution_shape(digits, group, str(body.get("addressing") or "pn"), quoted)
    return greenapi_shape(digits, group, quoted, body.get("text"))


def quoted_message(sb: Sandbox, message_id: Any) -> Message:
    """The message a reply quotes."""
    found = sb.store.messages.get(str(message_id))
    if found is None:
        raise ControlError(404, "replyTo names no message the sandbox knows")
    return found


def evolution_shape(
    digits: str, group: str | None, addressing: str, quoted: Message | None
) -> dict[str, Any]:
    """Key fields for a group member (both addressing modes) and the lifted contextInfo."""
    if addressing not in ("pn", "lid"):
        raise ControlError(400, "addressing must be pn or lid")
    shape: dict[str, Any] = {}
    if group:
        member = addressed(digits, addressing == "lid")
        shape["key"] = {
            "remoteJid": group,
            "participant": member["remoteJid"],
            "participantAlt": member["remoteJidAlt"],
            "addressingMode": addressing,
        }
    if quoted is not None:
        shape["contextInfo"] = {
            "stanzaId": quoted.id,
            "participant": quoted.chat if quoted.direction == "inbound" else None,
            "quotedMessage": {"conversation": quoted.text or ""},
        }
        shape["contextInfo"] = {k: v for k, v in shape["contextInfo"].items() if v is not None}
    return shape


def greenapi_shape(
    digits: str, group: str | None, quoted: Message | None, text: Any
) -> dict[str, Any]:
    """The group chat id, and a quotedMessage body for a reply."""
    shape: dict[str, Any] = {"chatId": group} if group else {}
    if quoted is not None:
        participant = quoted.chat if quoted.direction == "inbound" else ""
        shape["messageData"] = {
            "typeMessage": "quotedMessage",
            "extendedTextMessageData": {
                "text": str(text or ""),
                "stanzaId": quoted.id,
                "participant": participant,
            },
            "quotedMessage": {
                "stanzaId": quoted.id,
                "participant": participant,
                "typeMessage": "textMessage",
                "textMessage": quoted.text or "",
            },
        }
    return shape


# ------------------------------------------------------------------ changes of a message


def _instance_of(sb: Sandbox, msg: Message) -> EvoInstance | GreenInstance:
    """The instance a message went through."""
    found: EvoInstance | GreenInstance | None
    if msg.provider == EVOLUTION:
        found = sb.store.evolution.get(msg.instance)
    else:
        found = sb.store.greenapi.get(int(msg.instance))
    if found is None:
        raise ControlError(404, "the message's instance is gone")
    return found


def _message(request: web.Request) -> tuple[Sandbox, Message]:
    """The sandbox and the message named in the path."""
    sb = request.app[SANDBOX_KEY]
    msg = sb.store.messages.get(request.match_info["message_id"])
    if msg is None:
        raise ControlError(404, "no such message")
    return sb, msg


def _evolution_key(msg: Message) -> dict[str, Any]:
    """The key of a message as the phone that changes it writes it."""
    return {"remoteJid": msg.chat, "fromMe": msg.direction == "outbound", "id": msg.id}


def edit(sb: Sandbox, msg: Message, text: str, revoke: bool = False) -> None:
    """Edit (or revoke) a message: its sender changes it on their phone."""
    inst = _instance_of(sb, msg)
    if isinstance(inst, EvoInstance):
        data: dict[str, Any] = {
            "key": _evolution_key(msg),
            "type": "REVOKE" if revoke else "MESSAGE_EDIT",
        }
        if not revoke:
            data.update(
                editedMessage={"conversation": text},
                timestampMs=str(int(sb.clock.now() * 1000)),
            )
        sb.evolution.emit(inst, "messages.edited", data)
        if revoke:
            # Baileys also reports the revoked message as updated with no content.
            sb.evolution.emit(inst, "messages.delete", {**_evolution_key(msg), "status": "DELETED"})
        return
    kind = "deletedMessage" if revoke else "editedMessage"
    data = {"typeMessage": kind, f"{kind}Data": {"stanzaId": msg.id}}
    if not revoke:
        data[f"{kind}Data"]["textMessage"] = text
    _green_change(
        sb, inst, msg, data, "deletedMessageWebhook" if revoke else "editedMessageWebhook"
    )


def react(sb: Sandbox, msg: Message, emoji: str, sender: str) -> None:
    """The other side reacts to a message (an empty emoji takes the reaction back)."""
    inst = _instance_of(sb, msg)
    digits = "".join(ch for ch in (sender or msg.number) if ch.isdigit())
    if isinstance(inst, EvoInstance):
        now = sb.clock.now()
        reaction = {
            "key": _evolution_key(msg),
            "text": emoji,
            "senderTimestampMs": str(int(now * 1000)),
        }
        data = {
            "key": {
                "fromMe": False,
                "id": sb.ids.inbound_id(),
                **addressed(digits, msg.chat.endswith("@lid")),
            },
            "pushName": f"Contact {digits[-4:]}",
            "status": "DELIVERY_ACK",
            "message": {"reactionMessage": reaction},
            "messageType": "reactionMessage",
            "messageTimestamp": int(now),
            "instanceId": inst.id,
            "source": "android",
        }
        sb.evolution.emit(inst, "messages.upsert", data)
        return
    data = {
        "typeMessage": "reactionMessage",
        "extendedTextMessageData": {"text": emoji},
        "quotedMessage": {"stanzaId": msg.id, "participant": inst.wid or ""},
    }
    sb.greenapi.inbound(inst, digits, None, None, None, {"chatId": msg.chat, "messageData": data})


def _green_change(
    sb: Sandbox, inst: GreenInstance, msg: Message, data: dict[str, Any], flag: str
) -> None:
    """An edit or deletion notification: incoming for theirs, outgoing for ours (from the phone)."""
    if inst.settings.get(flag) != "yes":
        return
    ours = msg.direction == "outbound"
    body = {
        **sb.greenapi._envelope(
            inst, "outgoingMessageReceived" if ours else "incomingMessageReceived"
        ),
        "idMessage": sb.ids.inbound_id(),
        "senderData": {
            "chatId": msg.chat,
            "chatName": msg.number,
            "sender": (inst.wid or "") if ours else msg.chat,
            "senderName": "",
            "senderContactName": "",
        },
        "messageData": data,
    }
    # These notifications come whatever incomingWebhook says; their own switch gates them.
    sb.greenapi.emit(inst, flag, body)


def call(sb: Sandbox, inst: EvoInstance | GreenInstance, body: dict[str, Any]) -> dict[str, Any]:
    """An incoming call at one of its stages."""
    digits = "".join(ch for ch in str(body.get("from") or "") if ch.isdigit())
    if not digits:
        raise ControlError(400, "from must be a phone number")
    call_id = str(body.get("id") or sb.ids.inbound_id())
    status = str(body.get("status") or "offer")
    if isinstance(inst, EvoInstance):
        if status not in EVOLUTION_CALL_STATUSES:
            raise ControlError(400, f"status must be one of {', '.join(EVOLUTION_CALL_STATUSES)}")
        phone = f"{digits}@s.whatsapp.net"
        chat = lid_for(digits) if body.get("lid") else phone
        data = {
            "chatId": chat,
            "from": chat,
            "id": call_id,
            "date": sb.clock.iso(),
            "offline": False,
            "status": status,
            "isVideo": bool(body.get("video")),
            "isGroup": False,
        }
        if body.get("lid"):
            data["callerPn"] = phone
        sb.evolution.emit(inst, "call", data)
    else:
        if status not in GREEN_CALL_STATUSES:
            raise ControlError(400, f"status must be one of {', '.join(GREEN_CALL_STATUSES)}")
        note = {
            **sb.greenapi._envelope(inst, "incomingCall"),
            "idMessage": call_id,
            "from": f"{digits}@c.us",
            "status": status,
        }
        sb.greenapi.emit(inst, "incomingCallWebhook", note)
    return {"id": call_id, "status": status}


# ------------------------------------------------------------------ control routes


async def _json(request: web.Request) -> dict[str, Any]:
    """An optional JSON object body."""
    if not request.body_exists:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


@routes.post(PREFIX + "/messages/{message_id}/edit")
async def edit_route(request: web.Request) -> web.Response:
    """Its sender edits a message: {"text"}."""
    sb, msg = _message(request)
    text = (await _json(request)).get("text")
    if not isinstance(text, str) or not text:
        raise ControlError(400, "text is required")
    edit(sb, msg, text)
    return web.json_response({"id": msg.id, "edited": text})


@routes.post(PREFIX + "/messages/{message_id}/revoke")
async def revoke_route(request: web.Request) -> web.Response:
    """Its sender deletes a message for everyone."""
    sb, msg = _message(request)
    edit(sb, msg, "", revoke=True)
    return web.json_response({"id": msg.id, "revoked": True})


@routes.post(PREFIX + "/messages/{message_id}/react")
async def react_route(request: web.Request) -> web.Response:
    """The chat reacts to a message: {"emoji" ("" takes it back), "from"?}."""
    sb, msg = _message(request)
    body = await _json(request)
    emoji = body.get("emoji", "")
    if not isinstance(emoji, str):
        raise ControlError(400, "emoji must be text")
    react(sb, msg, emoji, str(body.get("from") or ""))
    return web.json_response({"id": msg.id, "emoji": emoji})


@routes.post(PREFIX + "/{provider}/instances/{key}/call")
async def call_route(request: web.Request) -> web.Response:
    """An incoming call: {"from", "status"?, "video"?, "lid"? (Evolution), "id"? (next stage)}."""
    from sandbox.control import _instance

    sb = request.app[SANDBOX_KEY]
    return web.json_response(call(sb, _instance(request), await _json(request)), status=201)
