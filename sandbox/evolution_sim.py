"""Evolution API v2 (Baileys) behaviour: lifecycle, QR cycle, sends, receipts and webhook events."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sandbox import receipts
from sandbox.errors import ControlError
from sandbox.media import inbound_media
from sandbox.qr import pairing_code, png_data_url, qr_reference
from sandbox.state import EVOLUTION, EvoInstance, EvoWebhook, Message, QrState, Sandbox

# Baileys DisconnectReason codes; Evolution gives up (no reconnect) only on 401, 402, 403 and 406.
DISCONNECT_CODES = {
    "connection_closed": 428,
    "connection_lost": 408,
    "timed_out": 408,
    "connection_replaced": 440,
    "logged_out": 401,
    "bad_session": 500,
    "restart_required": 515,
    "multidevice_mismatch": 411,
    "forbidden": 403,
    "unavailable_service": 503,
}
UNRECOVERABLE = frozenset({401, 402, 403, 406})
RECEIPT_STATUS = {
    "pending": "PENDING",
    "sent": "SERVER_ACK",
    "delivered": "DELIVERY_ACK",
    "read": "READ",
    "played": "PLAYED",
    "failed": "ERROR",
    "deleted": "DELETED",
}
OWN_PUSH_NAME = (
    "Você"  # what Evolution reports as pushName of API sends (EvolutionAPI/evolution-api#1934)
)


def to_jid(number: str) -> str:
    """Turn digits (or a full JID) into a WhatsApp JID."""
    if "@" in number:
        return number
    return "".join(ch for ch in number if ch.isdigit()) + "@s.whatsapp.net"


def lid_for(digits: str) -> str:
    """Return a stable fake LID for a phone number."""
    return str(int(hashlib.sha256(digits.encode()).hexdigest(), 16) % 10**14 + 10**14) + "@lid"


def addressed(digits: str, lid: bool) -> dict[str, Any]:
    """A 1:1 key's identities as Baileys 7 gives them: the alt JID is always the *other* one."""
    phone, their_lid = f"{digits}@s.whatsapp.net", lid_for(digits)
    if lid:
        return {"remoteJid": their_lid, "remoteJidAlt": phone, "addressingMode": "lid"}
    return {"remoteJid": phone, "remoteJidAlt": their_lid, "addressingMode": "pn"}


class EvolutionSim:
    """Evolution instances and what happens to them."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb

    @property
    def instances(self) -> dict[str, EvoInstance]:
        """Return the instances by name."""
        return self.sb.store.evolution

    def create(
        self, name: str, token: str | None, settings: dict[str, Any], webhook: EvoWebhook | None
    ) -> EvoInstance:
        """Register a new instance in state close."""
        now = self.sb.clock.now()
        inst = EvoInstance(
            name=name,
            id=self.sb.ids.uuid(),
            token=token or self.sb.ids.instance_token(),
            integration="WHATSAPP-BAILEYS",
            settings=settings,
            created_at=now,
            updated_at=now,
            webhook=webhook,
        )
        self.instances[name] = inst
        self.emit(inst, "instance.create", {"instanceName": name, "instanceId": inst.id})
        return inst

    def connect(self, inst: EvoInstance, number: str | None) -> None:
        """Start a socket: state connecting, then a QR code every evolution_qr_seconds."""
        inst.cancel_timer()
        inst.state = "connecting"
        inst.qr = QrState(number=number)
        self._touch(inst)
        self.emit(
            inst,
            "connection.update",
            {"instance": inst.name, "state": "connecting", "statusReason": 200},
        )
        delay = self.sb.config.evolution_qr_initial_delay
        if delay > 0:
            inst.timer = self.sb.clock.call_later(delay, lambda: self._qr_tick(inst))
        else:
            self._qr_tick(inst)

    def _qr_tick(self, inst: EvoInstance) -> None:
        """Issue the next QR code, or give up once the limit is reached."""
        if inst.state != "connecting" or self.instances.get(inst.name) is not inst:
            return
        if inst.qr.count >= self.sb.config.evolution_qr_limit:
            self._qr_limit(inst)
            return
        qr = inst.qr
        qr.count += 1
        qr.code = qr_reference(self.sb.rng)
        qr.data_url = png_data_url(qr.code)
        qr.pairing_code = pairing_code(self.sb.rng) if qr.number else None
        qr.issued_at = self.sb.clock.now()
        self.emit(
            inst,
            "qrcode.updated",
            {
                "qrcode": {
                    "instance": inst.name,
                    "pairingCode": qr.pairing_code,
                    "code": qr.code,
                    "base64": qr.data_url,
                }
            },
        )
        inst.timer = self.sb.clock.call_later(
            self.sb.config.evolution_qr_seconds, lambda: self._qr_tick(inst)
        )

    def _qr_limit(self, inst: EvoInstance) -> None:
        """QRCODE_LIMIT reached: limit message, connection.update refused, socket logged out."""
        self.emit(
            inst,
            "qrcode.updated",
            {"message": "QR code limit reached, please login again", "statusCode": 500},
        )
        data: dict[str, Any] = {"instance": inst.name, "state": "refused", "statusReason": 428}
        data.update(self._profile(inst))
        self.emit(inst, "connection.update", data)
        inst.timer = None
        inst.qr = QrState()
        inst.state = self.sb.config.evolution_refused_state
        self._touch(inst)

    def qr_body(self, inst: EvoInstance) -> dict[str, Any]:
        """Return the QR object of create and connect ({count: 0} before the first code)."""
        qr = inst.qr
        if qr.count == 0:
            return {"count": 0}
        return {
            "pairingCode": qr.pairing_code,
            "code": qr.code,
            "base64": qr.data_url,
            "count": qr.count,
        }

    def scan(
        self, inst: EvoInstance, phone: str | None, profile_name: str | None, code: str | None
    ) -> None:
        """Simulate the phone scanning the QR (or typing the pairing code): state open."""
        if inst.state != "connecting" or inst.qr.count == 0:
            raise ControlError(
                409, f'instance "{inst.name}" has no QR code to scan (state {inst.state})'
            )
        if code and code not in (inst.qr.code, inst.qr.pairing_code):
            raise ControlError(400, "code does not match the current QR code or pairing code")
        digits = "".join(
            ch for ch in (phone or inst.qr.number or self.sb.ids.phone()) if ch.isdigit()
        )
        inst.number = digits
        inst.owner_jid = f"{digits}@s.whatsapp.net"
        inst.profile_name = profile_name or inst.profile_name or f"Sandbox {digits[-4:]}"
        inst.session = True
        self._open(inst)

    def _open(self, inst: EvoInstance) -> None:
        """Move to open and say so."""
        inst.cancel_timer()
        inst.state = "open"
        inst.qr = QrState()
        self._touch(inst)
        self.emit(
            inst,
            "connection.update",
            {
                "instance": inst.name,
                "wuid": inst.owner_jid,
                "profileName": inst.profile_name,
                "profilePictureUrl": inst.profile_pic_url,
                "state": "open",
                "statusReason": 200,
            },
        )

    def disconnect(self, inst: EvoInstance, reason: str, recover: bool = True) -> int:
        """Simulate a socket close with a Baileys reason; return its status code."""
        if reason not in DISCONNECT_CODES:
            raise ControlError(400, f"reason must be one of {', '.join(DISCONNECT_CODES)}")
        if inst.state not in ("open", "connecting"):
            raise ControlError(409, f'instance "{inst.name}" is not connected (state {inst.state})')
        code = DISCONNECT_CODES[reason]
        if code in UNRECOVERABLE:
            self.close_for_good(inst, code)
        else:
            self._reconnect(inst, code, recover)
        return code

    def _reconnect(self, inst: EvoInstance, code: int, recover: bool) -> None:
        """Evolution reconnects silently (no close webhook): connecting, then open or a new QR."""
        inst.cancel_timer()
        if code == 500:
            inst.session = False
        if not inst.session:
            self.connect(inst, None)
            return
        inst.state = "connecting"
        self._touch(inst)
        self.emit(
            inst,
            "connection.update",
            {"instance": inst.name, "state": "connecting", "statusReason": 200},
        )
        if recover:
            inst.timer = self.sb.clock.call_later(
                self.sb.config.reconnect_seconds, lambda: self._reopen(inst)
            )

    def _reopen(self, inst: EvoInstance) -> None:
        """Finish a silent reconnect."""
        inst.timer = None
        if inst.state == "connecting" and inst.session and self.instances.get(inst.name) is inst:
            self._open(inst)

    def close_for_good(self, inst: EvoInstance, code: int) -> None:
        """Close for good: status.instance, connection.update close, logout.instance; no session."""
        inst.cancel_timer()
        now = self.sb.clock.now()
        inst.state = "close"
        inst.session = False
        inst.qr = QrState()
        inst.disconnection_code = code
        inst.disconnection_at = now
        inst.disconnection_object = json.dumps(self._boom(code, now))
        self._touch(inst)
        self.emit(
            inst,
            "status.instance",
            {
                "instance": inst.name,
                "status": "closed",
                "disconnectionAt": self.sb.clock.iso(now),
                "disconnectionReasonCode": code,
                "disconnectionObject": inst.disconnection_object,
            },
        )
        self.emit(
            inst,
            "connection.update",
            {"instance": inst.name, "state": "close", "statusReason": code},
        )
        self.emit(inst, "logout.instance", None)

    def _boom(self, code: int, now: float) -> dict[str, Any]:
        """Return a Baileys lastDisconnect object as Evolution stores it."""
        message = "Connection Failure" if code in UNRECOVERABLE else "Connection Closed"
        payload = {
            "statusCode": code,
            "error": "Unauthorized" if code == 401 else "Forbidden",
            "message": message,
        }
        return {
            "error": {
                "data": None,
                "isBoom": True,
                "isServer": False,
                "output": {"statusCode": code, "payload": payload, "headers": {}},
            },
            "date": self.sb.clock.iso(now),
        }

    def restart(self, inst: EvoInstance) -> dict[str, Any]:
        """POST /instance/restart: reload an open socket, or start a new QR cycle if connecting."""
        if inst.state == "open":
            self.emit(
                inst,
                "connection.update",
                {"instance": inst.name, "state": "connecting", "statusReason": 200},
            )
            self._open(inst)
            return {"instance": {"instanceName": inst.name, "state": inst.state}}
        self.connect(inst, None)
        return self.qr_body(inst)

    def delete(self, inst: EvoInstance) -> None:
        """Remove an instance, logging it out first when it has a socket."""
        if inst.state in ("open", "connecting"):
            self.close_for_good(inst, 401)
        self.emit(inst, "instance.delete", {"instanceName": inst.name, "instanceId": inst.id})
        inst.cancel_timer()
        del self.instances[inst.name]

    def send(
        self,
        inst: EvoInstance,
        number: str,
        message: dict[str, Any],
        message_type: str,
        context: dict[str, Any] | None,
        text: str | None,
    ) -> dict[str, Any]:
        """Send a message: 201 body, send.message webhook, receipts later."""
        jid = to_jid(number)
        msg = Message(
            id=self.sb.ids.outbound_id(),
            provider=EVOLUTION,
            instance=inst.name,
            direction="outbound",
            chat=jid,
            number=jid.split("@")[0],
            kind=message_type,
            text=text,
            created_at=self.sb.clock.now(),
            db_id=self.sb.ids.cuid(),
            saved=self.sb.config.evolution_save_messages,
        )
        msg.sent_at = msg.created_at
        msg.payload = {
            "key": {"remoteJid": jid, "fromMe": True, "id": msg.id},
            "pushName": OWN_PUSH_NAME,
            "status": "PENDING",
            "message": message,
            "contextInfo": context or {},
            "messageType": message_type,
            "messageTimestamp": int(msg.created_at),
            "instanceId": inst.id,
            "source": "unknown",
        }
        self.sb.store.messages[msg.id] = msg
        self.emit(inst, "send.message", msg.payload)
        receipts.schedule_auto(self.sb, msg, self.emit_receipt)
        return msg.payload

    def emit_receipt(self, msg: Message, status: str) -> None:
        """Send a messages.update receipt for an outbound message."""
        inst = self.instances.get(msg.instance)
        if inst is None or self.sb.store.messages.get(msg.id) is not msg:
            return
        if status not in RECEIPT_STATUS:
            raise ControlError(400, f"status must be one of {', '.join(RECEIPT_STATUS)}")
        msg.receipts.append(status)
        self.emit(
            inst,
            "messages.update",
            {
                "keyId": msg.id,
                "remoteJid": msg.chat,
                "fromMe": True,
                "participant": None,
                "status": RECEIPT_STATUS[status],
                "pollUpdates": None,
                "instanceId": inst.id,
                "messageId": msg.db_id,
            },
        )

    def inbound(
        self,
        inst: EvoInstance,
        sender: str,
        text: str | None,
        media: dict[str, Any] | None,
        push_name: str | None,
        lid: bool,
        shape: dict[str, Any] | None = None,
    ) -> Message:
        """Simulate a message from a phone: messages.upsert.

        `shape` adds what sandbox/edges.py builds: a group and its member, a quoted message.
        """
        if inst.state != "open":
            raise ControlError(409, f'instance "{inst.name}" is not open (state {inst.state})')
        digits = "".join(ch for ch in sender if ch.isdigit())
        msg_id = self.sb.ids.inbound_id()
        key: dict[str, Any] = {"fromMe": False, "id": msg_id, **addressed(digits, lid)}
        shape = shape or {}
        key.update(shape.get("key") or {})
        content, message_type = self._content(inst, msg_id, text, media)
        data = {
            "key": key,
            "pushName": push_name or f"Contact {digits[-4:]}",
            "status": "DELIVERY_ACK",
            "message": content,
            "messageType": message_type,
            "messageTimestamp": int(self.sb.clock.now()),
            "instanceId": inst.id,
            "source": "android",
        }
        if shape.get("contextInfo"):
            # 2.3.6 lifts the message's contextInfo beside `message` (prepareMessage).
            data["contextInfo"] = shape["contextInfo"]
        msg = Message(
            id=msg_id,
            provider=EVOLUTION,
            instance=inst.name,
            direction="inbound",
            chat=key["remoteJid"],
            number=digits,
            kind=message_type,
            text=text,
            created_at=self.sb.clock.now(),
            db_id=self.sb.ids.cuid(),
            payload=data,
            saved=self.sb.config.evolution_save_messages,
        )
        self.sb.store.messages[msg_id] = msg
        self.emit(inst, "messages.upsert", data)
        return msg

    def _content(
        self, inst: EvoInstance, msg_id: str, text: str | None, media: dict[str, Any] | None
    ) -> tuple[dict[str, Any], str]:
        """Return the Baileys message object and messageType of an inbound message."""
        if not media:
            return {"conversation": text or ""}, "conversation"
        item = inbound_media(self.sb, media, msg_id)
        message_type = f"{item.kind}Message"
        body: dict[str, Any] = {
            "url": f"https://mmg.whatsapp.net/v/t62.7118-24/sandbox-{msg_id}.enc",
            "mimetype": item.mimetype,
            "fileLength": str(len(item.data)),
        }
        if item.caption is not None:
            body["caption"] = item.caption
        if item.kind == "document":
            body.update(fileName=item.file_name, title=item.file_name)
        if item.kind == "audio" and media and media.get("ptt"):
            body["ptt"] = True  # a voice note
        content: dict[str, Any] = {message_type: body}
        if inst.webhook is not None and inst.webhook.base64:
            content["base64"] = item.base64()
        return content, message_type

    def emit(self, inst: EvoInstance, event: str, data: Any) -> None:
        """POST an event to the instance webhook, if configured and subscribed."""
        hook = inst.webhook
        if hook is None or not hook.enabled or not hook.url.startswith(("http://", "https://")):
            return
        upper = re.sub(r"[.-]", "_", event).upper()
        if hook.events and upper not in hook.events:
            return
        url = f"{hook.url}/{upper.replace('_', '-').lower()}" if hook.by_events else hook.url
        body: dict[str, Any] = {
            "event": event,
            "instance": inst.name,
            "data": data,
            "destination": url,
            "date_time": self.sb.clock.iso(),
            "sender": inst.owner_jid,
            "server_url": self.sb.config.base_url(),
            "apikey": inst.token if self.sb.config.evolution_expose_token else None,
        }
        if inst.owner_jid is None:
            del body["sender"]
        headers = {k: str(v) for k, v in hook.headers.items() if k != "jwt_key"}
        jwt_key = hook.headers.get("jwt_key")
        self.sb.webhooks.send(
            EVOLUTION, inst.name, event, url, headers, body, str(jwt_key) if jwt_key else None
        )

    def _profile(self, inst: EvoInstance) -> dict[str, Any]:
        """Return wuid, profileName and profilePictureUrl where known (JSON drops undefined)."""
        values = {
            "wuid": inst.owner_jid,
            "profileName": inst.profile_name,
            "profilePictureUrl": inst.profile_pic_url,
        }
        return {k: v for k, v in values.items() if v is not None}

    def _touch(self, inst: EvoInstance) -> None:
        """Stamp updatedAt."""
        inst.updated_at = self.sb.clock.now()

    def describe(self, inst: EvoInstance) -> dict[str, Any]:
        """Return the control-API view of an instance."""
        return {
            "provider": EVOLUTION,
            "key": inst.name,
            "name": inst.name,
            "id": inst.id,
            "state": inst.state,
            "number": inst.number,
            "profileName": inst.profile_name,
            "ownerJid": inst.owner_jid,
            "qr": inst.qr.data_url,
            "qrCode": inst.qr.code,
            "qrCount": inst.qr.count,
            "pairingCode": inst.qr.pairing_code,
            "webhook": inst.webhook.url if inst.webhook else None,
            "disconnectionReasonCode": inst.disconnection_code,
        }
