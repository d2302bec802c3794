"""GreenAPI behaviour: states, QR and pairing codes, queued sends, receipts and notifications."""

from __future__ import annotations

from typing import Any

from sandbox import receipts
from sandbox.errors import ControlError
from sandbox.media import inbound_media
from sandbox.qr import pairing_code, png_base64, qr_reference
from sandbox.state import GREENAPI, GreenInstance, Message, QrState, Sandbox

STATES = ("notAuthorized", "authorized", "blocked", "sleepMode", "starting", "yellowCard")
# All settings are off after instance creation (reference 2.2).
DEFAULT_SETTINGS: dict[str, Any] = {
    "webhookUrl": "",
    "webhookUrlToken": "",
    "delaySendMessagesMilliseconds": 5000,
    "markIncomingMessagesReaded": "no",
    "markIncomingMessagesReadedOnReply": "no",
    "outgoingWebhook": "no",
    "outgoingMessageWebhook": "no",
    "outgoingAPIMessageWebhook": "no",
    "incomingWebhook": "no",
    "stateWebhook": "no",
    "pollMessageWebhook": "no",
    "incomingCallWebhook": "no",
    "editedMessageWebhook": "no",
    "deletedMessageWebhook": "no",
    "keepOnlineStatus": "no",
}
# reason -> (state, recovers to authorized after reconnect_seconds)
DISCONNECT_STATES = {
    "connection_lost": ("sleepMode", True),
    "timed_out": ("sleepMode", True),
    "sleep_mode": ("sleepMode", True),
    "connection_closed": ("starting", True),
    "restart_required": ("starting", True),
    "connection_replaced": ("starting", True),
    "unavailable_service": ("starting", True),
    "logged_out": ("notAuthorized", False),
    "bad_session": ("notAuthorized", False),
    "multidevice_mismatch": ("notAuthorized", False),
    "forbidden": ("blocked", False),
    "yellow_card": ("yellowCard", False),
}
RECEIPT_STATUSES = ("sent", "delivered", "read", "failed", "noAccount", "notInGroup", "yellowCard")
ALWAYS_SENT = ("failed", "noAccount")  # these status notifications cannot be switched off
FILE_TYPES = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "document": "documentMessage",
}


class GreenApiSim:
    """GreenAPI instances and what happens to them."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb

    @property
    def instances(self) -> dict[int, GreenInstance]:
        """Return the instances by idInstance."""
        return self.sb.store.greenapi

    def create(
        self, id_instance: int | None, token: str | None, settings: dict[str, Any] | None
    ) -> GreenInstance:
        """Create an instance as the GreenAPI console does: notAuthorized, settings off."""
        store = self.sb.store
        if id_instance is None:
            while store.next_greenapi_id in self.instances:
                store.next_greenapi_id += 1
            id_instance = store.next_greenapi_id
        if id_instance in self.instances:
            raise ControlError(409, f"GreenAPI instance {id_instance} already exists")
        inst = GreenInstance(
            id=id_instance,
            token=token or self.sb.ids.greenapi_token(),
            created_at=self.sb.clock.now(),
            settings={**DEFAULT_SETTINGS, **(settings or {})},
        )
        self.instances[id_instance] = inst
        store.greenapi_deleted.pop(id_instance, None)
        return inst

    def delete(self, inst: GreenInstance) -> None:
        """Remove an instance; the Partner API still lists it, as deleted."""
        inst.cancel_timer()
        del self.instances[inst.id]
        self.sb.store.greenapi_deleted[inst.id] = (inst, self.sb.clock.now())

    def set_state(self, inst: GreenInstance, state: str) -> None:
        """Change the state and send stateInstanceChanged."""
        if state == inst.state:
            return
        inst.state = state
        if state != "notAuthorized":
            inst.qr = QrState()
        self.emit(
            inst,
            "stateWebhook",
            {**self._envelope(inst, "stateInstanceChanged"), "stateInstance": state},
        )
        if state == "authorized":
            self._flush(inst)

    def current_qr(self, inst: GreenInstance) -> QrState | None:
        """Return the live QR of a notAuthorized instance, renewed every greenapi_qr_seconds."""
        if inst.state != "notAuthorized":
            return None
        now = self.sb.clock.now()
        if inst.qr.code is None or now - inst.qr.issued_at >= self.sb.config.greenapi_qr_seconds:
            code = qr_reference(self.sb.rng)
            pairing = inst.qr.pairing_code if now < inst.code_until else None
            inst.qr = QrState(
                code=code,
                data_url="data:image/png;base64," + png_base64(code),
                pairing_code=pairing,
                count=inst.qr.count + 1,
                issued_at=now,
            )
        return inst.qr

    def authorization_code(self, inst: GreenInstance) -> str:
        """Issue a pairing code valid for greenapi_code_ttl seconds."""
        self.current_qr(inst)
        inst.qr.pairing_code = pairing_code(self.sb.rng)
        inst.code_until = self.sb.clock.now() + self.sb.config.greenapi_code_ttl
        return inst.qr.pairing_code

    def scan(
        self, inst: GreenInstance, phone: str | None, profile_name: str | None, code: str | None
    ) -> None:
        """Simulate the phone scanning the QR (or entering the pairing code): authorized."""
        if inst.state != "notAuthorized":
            raise ControlError(
                409, f"instance {inst.id} is not waiting for a scan (state {inst.state})"
            )
        qr = self.current_qr(inst)
        pairing_ok = (
            qr is not None and code == qr.pairing_code and self.sb.clock.now() < inst.code_until
        )
        if code and qr is not None and code != qr.code and not pairing_ok:
            raise ControlError(
                400, "code does not match the current QR code or a valid pairing code"
            )
        digits = "".join(ch for ch in (phone or self.sb.ids.phone()) if ch.isdigit())
        inst.wid = f"{digits}@c.us"
        inst.profile_name = profile_name or inst.profile_name or f"Sandbox {digits[-4:]}"
        self.set_state(inst, "authorized")

    def logout(self, inst: GreenInstance) -> None:
        """Forget the session: notAuthorized."""
        inst.cancel_timer()
        inst.wid = None
        self.set_state(inst, "notAuthorized")

    def reboot(self, inst: GreenInstance) -> None:
        """Go through starting and come back after greenapi_reboot_seconds."""
        inst.cancel_timer()
        back = "authorized" if inst.wid and inst.state != "blocked" else inst.state
        back = "notAuthorized" if back == "starting" else back
        self.set_state(inst, "starting")
        inst.timer = self.sb.clock.call_later(
            self.sb.config.greenapi_reboot_seconds, lambda: self._come_back(inst, back)
        )

    def _come_back(self, inst: GreenInstance, state: str) -> None:
        """Finish a reboot or a recoverable disconnect."""
        inst.timer = None
        if self.instances.get(inst.id) is inst:
            self.set_state(inst, state)

    def disconnect(self, inst: GreenInstance, reason: str, recover: bool = True) -> str:
        """Simulate a disconnect; return the resulting state."""
        if reason not in DISCONNECT_STATES:
            raise ControlError(400, f"reason must be one of {', '.join(DISCONNECT_STATES)}")
        if inst.state != "authorized":
            raise ControlError(409, f"instance {inst.id} is not authorized (state {inst.state})")
        state, recovers = DISCONNECT_STATES[reason]
        inst.cancel_timer()
        if state in ("notAuthorized", "blocked"):
            inst.wid = None if state == "notAuthorized" else inst.wid
        self.set_state(inst, state)
        if recovers and recover:
            inst.timer = self.sb.clock.call_later(
                self.sb.config.reconnect_seconds, lambda: self._come_back(inst, "authorized")
            )
        return state

    def send(
        self, inst: GreenInstance, chat_id: str, text: str | None, file: dict[str, Any] | None
    ) -> Message:
        """Accept a send (queued while not authorized, as GreenAPI does) and return the message."""
        number = chat_id.split("@")[0]
        exists = chat_id.endswith("@g.us") or self.sb.is_on_whatsapp(number)
        kind = "text" if file is None else file["kind"]
        msg = Message(
            id=self.sb.ids.outbound_id(),
            provider=GREENAPI,
            instance=str(inst.id),
            direction="outbound",
            chat=chat_id,
            number=number,
            kind=kind,
            text=text,
            created_at=self.sb.clock.now(),
            db_id=self.sb.ids.cuid(),
            exists=exists,
            payload={"file": file} if file else {},
        )
        self.sb.store.messages[msg.id] = msg
        if inst.state == "authorized":
            self._dispatch(inst, msg)
        else:
            inst.queued.append(msg.id)
        return msg

    def _flush(self, inst: GreenInstance) -> None:
        """Send what was queued while the instance was not authorized."""
        queued, inst.queued = inst.queued, []
        for msg_id in queued:
            msg = self.sb.store.messages.get(msg_id)
            if msg is not None:
                self._dispatch(inst, msg)

    def _dispatch(self, inst: GreenInstance, msg: Message) -> None:
        """Echo the API send and schedule its status notifications."""
        msg.sent_at = msg.last_action_at = self.sb.clock.now()
        body = {
            **self._envelope(inst, "outgoingAPIMessageReceived"),
            "idMessage": msg.id,
            "senderData": {
                "chatId": msg.chat,
                "chatName": msg.number,
                "sender": inst.wid or "",
                "senderName": inst.profile_name or "",
                "senderContactName": "",
            },
            "messageData": self.outgoing_data(msg),
        }
        self.emit(inst, "outgoingAPIMessageWebhook", body)
        if not msg.exists:
            self.sb.clock.call_later(
                self.sb.config.receipt_delays[0], lambda: self.emit_receipt(msg, "noAccount")
            )
            return
        receipts.schedule_auto(self.sb, msg, self.emit_receipt)

    @staticmethod
    def outgoing_data(msg: Message) -> dict[str, Any]:
        """Return messageData of an API send."""
        file = msg.payload.get("file")
        if file is None:
            return {
                "typeMessage": "extendedTextMessage",
                "extendedTextMessageData": {
                    "text": msg.text or "",
                    "description": "",
                    "title": "",
                    "previewType": "None",
                    "jpegThumbnail": "",
                    "forwardingScore": 0,
                    "isForwarded": False,
                },
            }
        return {
            "typeMessage": FILE_TYPES[file["kind"]],
            "fileMessageData": {
                "downloadUrl": file["url"],
                "caption": file.get("caption") or "",
                "fileName": file["fileName"],
                "jpegThumbnail": "",
                "mimeType": file["mimeType"],
            },
        }

    def emit_receipt(self, msg: Message, status: str) -> None:
        """Send an outgoingMessageStatus notification."""
        inst = self.instances.get(int(msg.instance))
        if inst is None or self.sb.store.messages.get(msg.id) is not msg:
            return
        if status not in RECEIPT_STATUSES:
            raise ControlError(400, f"status must be one of {', '.join(RECEIPT_STATUSES)}")
        msg.receipts.append(status)
        msg.last_action_at = self.sb.clock.now()
        body: dict[str, Any] = {
            "typeWebhook": "outgoingMessageStatus",
            "chatId": msg.chat,
            "instanceData": self._instance_data(inst),
            "timestamp": int(self.sb.clock.now()),
            "idMessage": msg.id,
            "status": status,
            "sendByApi": True,
        }
        if status in ("failed", "noAccount", "notInGroup", "yellowCard"):
            body["description"] = {
                "noAccount": "The recipient does not have a WhatsApp account"
            }.get(status, f"Message was not delivered: {status}")
        self.emit(inst, None if status in ALWAYS_SENT else "outgoingWebhook", body)

    def inbound(
        self,
        inst: GreenInstance,
        sender: str,
        text: str | None,
        media: dict[str, Any] | None,
        push_name: str | None,
        shape: dict[str, Any] | None = None,
    ) -> Message:
        """Simulate a message from a phone: incomingMessageReceived.

        `shape` adds what sandbox/edges.py builds: a group chat, a quoted message.
        """
        if inst.state != "authorized":
            raise ControlError(409, f"instance {inst.id} is not authorized (state {inst.state})")
        digits = "".join(ch for ch in sender if ch.isdigit())
        shape = shape or {}
        chat = str(shape.get("chatId") or f"{digits}@c.us")
        name = push_name or f"Contact {digits[-4:]}"
        msg_id = self.sb.ids.inbound_id()
        body = {
            **self._envelope(inst, "incomingMessageReceived"),
            "idMessage": msg_id,
            "senderData": {
                "chatId": chat,
                "chatName": name,
                "sender": f"{digits}@c.us",
                "senderName": name,
                "senderContactName": name,
            },
            "messageData": shape.get("messageData") or self._incoming_data(msg_id, text, media),
        }
        msg = Message(
            id=msg_id,
            provider=GREENAPI,
            instance=str(inst.id),
            direction="inbound",
            chat=chat,
            number=digits,
            kind=body["messageData"]["typeMessage"],
            text=text,
            created_at=self.sb.clock.now(),
            db_id=self.sb.ids.cuid(),
            payload=body,
        )
        self.sb.store.messages[msg_id] = msg
        self.emit(inst, "incomingWebhook", body)
        return msg

    def _incoming_data(
        self, msg_id: str, text: str | None, media: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Return messageData of an inbound text or file."""
        if not media:
            return {"typeMessage": "textMessage", "textMessageData": {"textMessage": text or ""}}
        item = inbound_media(self.sb, media, msg_id)
        return {
            "typeMessage": FILE_TYPES[item.kind],
            "fileMessageData": {
                "downloadUrl": item.url,
                "caption": item.caption or "",
                "fileName": item.file_name,
                "jpegThumbnail": "",
                "mimeType": item.mimetype,
            },
        }

    def _instance_data(self, inst: GreenInstance) -> dict[str, Any]:
        """Return the instanceData block of every notification."""
        return {"idInstance": inst.id, "wid": inst.wid or "", "typeInstance": "whatsapp"}

    def _envelope(self, inst: GreenInstance, type_webhook: str) -> dict[str, Any]:
        """Return the common notification fields."""
        return {
            "typeWebhook": type_webhook,
            "instanceData": self._instance_data(inst),
            "timestamp": int(self.sb.clock.now()),
        }

    def emit(self, inst: GreenInstance, flag: str | None, body: dict[str, Any]) -> None:
        """POST a notification to webhookUrl when its setting is "yes" (flag None: always)."""
        url = str(inst.settings.get("webhookUrl") or "")
        if not url.startswith(("http://", "https://")):
            return
        if flag is not None and inst.settings.get(flag) != "yes":
            return
        token = inst.settings.get("webhookUrlToken")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.sb.webhooks.send(GREENAPI, str(inst.id), body["typeWebhook"], url, headers, body)

    def describe(self, inst: GreenInstance) -> dict[str, Any]:
        """Return the control-API view of an instance."""
        qr = self.current_qr(inst)
        return {
            "provider": GREENAPI,
            "key": str(inst.id),
            "idInstance": inst.id,
            "apiTokenInstance": inst.token,
            "state": inst.state,
            "wid": inst.wid,
            "profileName": inst.profile_name,
            "qr": qr.data_url if qr else None,
            "qrCode": qr.code if qr else None,
            "pairingCode": qr.pairing_code
            if qr and self.sb.clock.now() < inst.code_until
            else None,
            "webhook": inst.settings.get("webhookUrl") or None,
            "queued": len(inst.queued),
        }
