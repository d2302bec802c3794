"""GreenAPI routes: /waInstance{idInstance}/{method}/{apiTokenInstance}, token in the path."""

from __future__ import annotations

import hmac
import mimetypes
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.errors import GreenApiError, validation_failed
from sandbox.greenapi_sim import DEFAULT_SETTINGS
from sandbox.history import last_outgoing_messages
from sandbox.state import SANDBOX_KEY, GreenInstance, Sandbox

PATH = r"/waInstance{id_instance:\d+}/{method}/{token}"
CHAT_ID = re.compile(r"^\d{5,20}@(c|g)\.us$")
MAX_TEXT = 20000
EXTENSION_KINDS = {
    "image": ("jpg", "jpeg", "png", "gif", "webp", "bmp"),
    "video": ("mp4", "3gp", "mov", "avi", "mkv"),
    "audio": ("mp3", "ogg", "oga", "opus", "m4a", "aac", "wav", "amr"),
}
Handler = Callable[[Sandbox, GreenInstance, web.Request], Awaitable[Any]]


async def read_body(request: web.Request) -> dict[str, Any]:
    """Parse a JSON object body."""
    try:
        data = await request.json() if request.body_exists else None
    except ValueError as exc:
        raise validation_failed("body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise validation_failed('"value" must be of type object')
    return data


def phone_number(body: dict[str, Any]) -> int:
    """Return the integer phoneNumber field (no plus sign, no string)."""
    value = body.get("phoneNumber")
    if value is None:
        raise validation_failed('"phoneNumber" is required')
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation_failed('"phoneNumber" must be a number')
    return value


def chat_id(body: dict[str, Any]) -> str:
    """Return a valid chatId field."""
    value = body.get("chatId")
    if value is None:
        raise validation_failed('"chatId" is required')
    if not isinstance(value, str) or not CHAT_ID.match(value):
        raise validation_failed(
            '"chatId" with value is invalid: expected 79001234567@c.us or ...@g.us'
        )
    return value


async def get_state(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """getStateInstance."""
    return {"stateInstance": inst.state}


async def qr(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """qr: bare base64 PNG while notAuthorized."""
    code = sb.greenapi.current_qr(inst)
    if code is not None and code.data_url:
        return {"type": "qrCode", "message": code.data_url.split(",", 1)[1]}
    if inst.state == "authorized":
        return {"type": "alreadyLogged", "message": "instance account already authorized"}
    if inst.state in ("sleepMode", "yellowCard"):
        return {"type": "error", "message": "Instance has auth. You need to make log out"}
    return {"type": "error", "message": f"Instance is {inst.state}. Try later"}


async def get_authorization_code(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """getAuthorizationCode: an 8-character pairing code, only while notAuthorized."""
    phone_number(await read_body(request))
    if inst.state != "notAuthorized":
        return {"status": False, "code": ""}
    return {"status": True, "code": sb.greenapi.authorization_code(inst)}


async def logout(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """logout."""
    sb.greenapi.logout(inst)
    return {"isLogout": True}


async def reboot(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """reboot: starting for a while, then back."""
    sb.greenapi.reboot(inst)
    return {"isReboot": True}


def check_setting(name: str, value: Any) -> None:
    """Validate one setSettings field."""
    if name not in DEFAULT_SETTINGS:
        raise validation_failed(f'"{name}" is not allowed')
    if name in ("webhookUrl", "webhookUrlToken"):
        if not isinstance(value, str):
            raise validation_failed(f'"{name}" must be a string')
    elif name == "delaySendMessagesMilliseconds":
        if isinstance(value, bool) or not isinstance(value, int) or not 500 <= value <= 600000:
            raise validation_failed(f'"{name}" must be a number between 500 and 600000')
    elif value not in ("yes", "no"):
        raise validation_failed(f'"{name}" must be one of [yes, no]')


async def set_settings(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """setSettings: partial update."""
    body = await read_body(request)
    for name, value in body.items():
        check_setting(name, value)
    inst.settings.update(body)
    if sb.config.greenapi_reboot_on_settings:
        sb.greenapi.reboot(inst)
    return {"saveSettings": True}


async def get_settings(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """getSettings: the settings plus wid."""
    return {"wid": inst.wid or "", **inst.settings}


async def get_wa_settings(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """getWaSettings: phone and state of the account."""
    phone = (inst.wid or "").split("@")[0]
    return {
        "avatar": "",
        "phone": phone,
        "stateInstance": inst.state,
        "deviceId": f"sandbox-{inst.id}",
    }


async def send_message(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """sendMessage: queued, answered with idMessage."""
    body = await read_body(request)
    chat = chat_id(body)
    text = body.get("message")
    if not isinstance(text, str) or not text:
        raise validation_failed('"message" is required')
    if len(text) > MAX_TEXT:
        raise validation_failed(
            f'"message" length must be less than or equal to {MAX_TEXT} characters long'
        )
    return {"idMessage": sb.greenapi.send(inst, chat, text, None).id}


def file_kind(file_name: str) -> str:
    """Infer the message type from the file extension, as GreenAPI does."""
    extension = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    for kind, extensions in EXTENSION_KINDS.items():
        if extension in extensions:
            return kind
    return "document"


async def send_file_by_url(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """sendFileByUrl: queued, answered with idMessage."""
    body = await read_body(request)
    chat = chat_id(body)
    url, file_name = body.get("urlFile"), body.get("fileName")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise validation_failed('"urlFile" must be a valid uri')
    if not isinstance(file_name, str) or not file_name:
        raise validation_failed('"fileName" is required')
    kind = file_kind(file_name)
    mime = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    # WhatsApp audio has no caption field: whatever was asked for is not sent.
    caption = body.get("caption") if isinstance(body.get("caption"), str) else None
    caption = None if kind == "audio" else caption
    file = {"kind": kind, "url": url, "fileName": file_name, "mimeType": mime, "caption": caption}
    return {"idMessage": sb.greenapi.send(inst, chat, caption, file).id}


async def check_whatsapp(sb: Sandbox, inst: GreenInstance, request: web.Request) -> Any:
    """checkWhatsapp: whether a number has WhatsApp."""
    number = phone_number(await read_body(request))
    return {"existsWhatsapp": sb.is_on_whatsapp(str(number))}


METHODS: dict[str, tuple[str, Handler]] = {
    "getstateinstance": ("GET", get_state),
    "qr": ("GET", qr),
    "getauthorizationcode": ("POST", get_authorization_code),
    "logout": ("GET", logout),
    "reboot": ("GET", reboot),
    "setsettings": ("POST", set_settings),
    "getsettings": ("GET", get_settings),
    "getwasettings": ("GET", get_wa_settings),
    "sendmessage": ("POST", send_message),
    "sendfilebyurl": ("POST", send_file_by_url),
    "checkwhatsapp": ("POST", check_whatsapp),
    "lastoutgoingmessages": ("GET", last_outgoing_messages),
}


async def dispatch(request: web.Request) -> web.Response:
    """Authenticate by idInstance and token, then run the method."""
    sb = request.app[SANDBOX_KEY]
    inst = sb.store.greenapi.get(int(request.match_info["id_instance"]))
    token = request.match_info["token"]
    if inst is None or not hmac.compare_digest(token.encode(), inst.token.encode()):
        raise GreenApiError(401)
    entry = METHODS.get(request.match_info["method"].lower())
    if entry is None:
        raise GreenApiError(404)
    verb, handler = entry
    if request.method != verb:
        raise GreenApiError(405)
    return web.json_response(await handler(sb, inst, request))


def add_routes(app: web.Application) -> None:
    """Register the GreenAPI routes."""
    app.router.add_route("*", PATH, dispatch)
