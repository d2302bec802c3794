"""Evolution API v2 routes: same paths, apikey auth, status codes and bodies as the real server."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import mimetypes
from typing import Any

from aiohttp import web

from sandbox.errors import EvolutionError, bad_request, schema_error, unauthorized
from sandbox.evolution_sim import to_jid
from sandbox.media import DEFAULT_MIME, MEDIA_TYPES
from sandbox.state import SANDBOX_KEY, EvoInstance, EvoWebhook, Sandbox

VERSION = "2.3.6"
CONFIG_EVENTS = (
    "APPLICATION_STARTUP",
    "QRCODE_UPDATED",
    "MESSAGES_SET",
    "MESSAGES_UPSERT",
    "MESSAGES_EDITED",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "CONTACTS_SET",
    "CONTACTS_UPSERT",
    "CONTACTS_UPDATE",
    "PRESENCE_UPDATE",
    "CHATS_SET",
    "CHATS_UPSERT",
    "CHATS_UPDATE",
    "CHATS_DELETE",
    "GROUPS_UPSERT",
    "GROUP_UPDATE",
    "GROUP_PARTICIPANTS_UPDATE",
    "CONNECTION_UPDATE",
    "LABELS_EDIT",
    "LABELS_ASSOCIATION",
    "CALL",
    "TYPEBOT_START",
    "TYPEBOT_CHANGE_STATUS",
    "REMOVE_INSTANCE",
    "LOGOUT_INSTANCE",
    "INSTANCE_CREATE",
    "INSTANCE_DELETE",
    "STATUS_INSTANCE",
)
SETTINGS_DEFAULTS: dict[str, Any] = {
    "rejectCall": False,
    "msgCall": "",
    "groupsIgnore": False,
    "alwaysOnline": False,
    "readMessages": False,
    "readStatus": False,
    "syncFullHistory": False,
    "wavoipToken": "",
}
routes = web.RouteTableDef()


def _sb(request: web.Request) -> Sandbox:
    """Return the sandbox behind a request."""
    return request.app[SANDBOX_KEY]


def _same(given: str, expected: str) -> bool:
    """Compare secrets in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _is_global(request: web.Request) -> bool:
    """Tell whether the request carries the global API key."""
    key = request.headers.get("apikey", "")
    return bool(key) and _same(key, _sb(request).config.evolution_api_key)


def instance_for(request: web.Request) -> EvoInstance:
    """Apply Evolution's guards in order: instance exists (404), then apikey (401)."""
    name = request.match_info["instance"]
    inst = _sb(request).store.evolution.get(name)
    if inst is None:
        raise EvolutionError(404, [f'The "{name}" instance does not exist'])
    key = request.headers.get("apikey", "")
    if not (_is_global(request) or (key and _same(key, inst.token))):
        raise unauthorized()
    return inst


async def read_body(request: web.Request) -> dict[str, Any]:
    """Parse a JSON object body (empty body: {})."""
    if not request.body_exists:
        return {}
    try:
        data = await request.json()
    except ValueError as exc:
        raise bad_request(f"Unexpected token in JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise schema_error("instance is not of a type(s) object")
    return data


def require(body: dict[str, Any], *names: str, prefix: str = "") -> None:
    """Raise the JSON-schema 400 for a missing or empty string property."""
    for name in names:
        if name not in body:
            raise schema_error(f'{prefix or "instance"} requires property "{name}"')
        if body[name] in ("", None):
            raise schema_error(f'The "{name}" cannot be empty')


def webhook_row(sb: Sandbox, inst: EvoInstance) -> dict[str, Any] | None:
    """Return the stored webhook row as /webhook/find shows it."""
    hook = inst.webhook
    if hook is None:
        return None
    return {
        "id": hook.id,
        "url": hook.url,
        "headers": hook.headers,
        "enabled": hook.enabled,
        "events": hook.events,
        "webhookByEvents": hook.by_events,
        "webhookBase64": hook.base64,
        "createdAt": sb.clock.iso(hook.created_at),
        "updatedAt": sb.clock.iso(hook.updated_at),
        "instanceId": inst.id,
    }


def build_webhook(
    sb: Sandbox, spec: Any, existing: EvoWebhook | None, at_create: bool
) -> EvoWebhook | None:
    """Validate a webhook object and return the row to store."""
    if not isinstance(spec, dict):
        raise schema_error("webhook is not of a type(s) object")
    events = spec.get("events")
    if events is None and at_create:
        # Evolution 2.3.6 reads events.length on undefined and create fails (reference 1.3).
        raise bad_request("Cannot read properties of undefined (reading 'length')")
    events = list(events or [])
    for index, name in enumerate(events):
        if name not in CONFIG_EVENTS:
            raise schema_error(
                f"webhook.events[{index}] is not one of enum values: {','.join(CONFIG_EVENTS)}"
            )
    enabled = True if at_create else bool(spec.get("enabled"))
    now = sb.clock.now()
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict):
        raise schema_error("webhook.headers is not of a type(s) object")
    return EvoWebhook(
        id=existing.id if existing else sb.ids.cuid(),
        url=str(spec.get("url") or ""),
        headers={str(k): v for k, v in headers.items()},
        enabled=enabled,
        events=events if enabled else [],
        by_events=bool(spec.get("byEvents", spec.get("webhookByEvents", False))),
        base64=bool(spec.get("base64", spec.get("webhookBase64", False))),
        created_at=existing.created_at if existing else now,
        updated_at=now,
    )


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    """Health and version, as GET / of Evolution."""
    base = _sb(request).config.base_url()
    return web.json_response(
        {
            "status": 200,
            "message": "Welcome to the Evolution API, it is working!",
            "version": VERSION,
            "clientName": "evolution_exchange",
            "manager": f"{base}/manager",
            "documentation": "https://doc.evolution-api.com",
            "whatsappWebVersion": "2.3000.1027934701",
        }
    )


@routes.post("/instance/create")
async def create(request: web.Request) -> web.Response:
    """POST /instance/create: name in use 403, global key 401, schema 400, then 201."""
    sb = _sb(request)
    body = await read_body(request)
    name = body.get("instanceName")
    if isinstance(name, str) and name in sb.store.evolution:
        raise EvolutionError(403, [f'This name "{name}" is already in use.'])
    if not _is_global(request):
        raise unauthorized()
    require(body, "instanceName")
    if body.get("integration") != "WHATSAPP-BAILEYS":
        raise bad_request("Invalid integration")
    hook_spec = body.get("webhook")
    if hook_spec is not None and not isinstance(hook_spec, dict):
        raise schema_error("webhook is not of a type(s) object")
    webhook = (
        build_webhook(sb, hook_spec, None, True) if hook_spec and hook_spec.get("url") else None
    )
    settings = {key: body.get(key, default) for key, default in SETTINGS_DEFAULTS.items()}
    inst = sb.evolution.create(str(name), body.get("token") or None, settings, webhook)
    number = "".join(ch for ch in str(body.get("number") or "") if ch.isdigit()) or None
    inst.number = number
    answer = create_answer(inst, webhook)
    if body.get("qrcode"):
        sb.evolution.connect(inst, number)
        if sb.config.evolution_create_delay > 0:
            await asyncio.sleep(sb.config.evolution_create_delay)
        answer["instance"]["status"] = "connecting"
        answer["qrcode"] = sb.evolution.qr_body(inst)
    return web.json_response(answer, status=201)


def create_answer(inst: EvoInstance, webhook: EvoWebhook | None) -> dict[str, Any]:
    """Return the 201 body of create (without the qrcode part)."""
    hook = (
        {
            "webhookUrl": webhook.url,
            "webhookHeaders": webhook.headers,
            "webhookByEvents": webhook.by_events,
            "webhookBase64": webhook.base64,
        }
        if webhook
        else {}
    )
    return {
        "instance": {
            "instanceName": inst.name,
            "instanceId": inst.id,
            "integration": inst.integration,
            "webhookWaBusiness": None,
            "accessTokenWaBusiness": "",
            "status": "close",
        },
        "hash": inst.token,
        "webhook": hook,
        "websocket": {},
        "rabbitmq": {},
        "nats": {},
        "sqs": {},
        "settings": dict(inst.settings),
    }


@routes.get("/instance/connect/{instance}")
async def connect(request: web.Request) -> web.Response:
    """GET /instance/connect: open is a no-op, connecting returns the QR, close starts a socket."""
    sb = _sb(request)
    inst = instance_for(request)
    if inst.state == "open":
        return web.json_response({"instance": {"instanceName": inst.name, "state": "open"}})
    if inst.state != "connecting":
        number = "".join(ch for ch in request.query.get("number", "") if ch.isdigit()) or None
        sb.evolution.connect(inst, number)
    return web.json_response(sb.evolution.qr_body(inst))


@routes.get("/instance/connectionState/{instance}")
async def connection_state(request: web.Request) -> web.Response:
    """GET /instance/connectionState."""
    inst = instance_for(request)
    return web.json_response({"instance": {"instanceName": inst.name, "state": inst.state}})


@routes.get("/instance/fetchInstances")
async def fetch_instances(request: web.Request) -> web.Response:
    """GET /instance/fetchInstances: all with the global key, own rows with an instance token."""
    sb = _sb(request)
    key = request.headers.get("apikey", "")
    rows = list(sb.store.evolution.values())
    if not _is_global(request):
        rows = [inst for inst in rows if key and _same(key, inst.token)]
        if not rows:
            raise unauthorized()
    name = request.query.get("instanceName")
    if name is not None and name not in sb.store.evolution:
        raise EvolutionError(404, [f'Instance "{name}" not found'])
    wanted_id, number = request.query.get("instanceId"), request.query.get("number")
    rows = [
        inst
        for inst in rows
        if (name is None or inst.name == name)
        and (wanted_id is None or inst.id == wanted_id)
        and (number is None or inst.number == number)
    ]
    return web.json_response([instance_row(sb, inst) for inst in rows])


def instance_row(sb: Sandbox, inst: EvoInstance) -> dict[str, Any]:
    """Return the persisted Instance row (token included, as the real one leaks it)."""
    counts = [
        m
        for m in sb.store.messages.values()
        if m.instance == inst.name and m.provider == "evolution"
    ]
    chats = len({m.chat for m in counts})
    iso = sb.clock.iso
    return {
        "id": inst.id,
        "name": inst.name,
        "connectionStatus": "close" if inst.state == "refused" else inst.state,
        "ownerJid": inst.owner_jid,
        "profileName": inst.profile_name,
        "profilePicUrl": inst.profile_pic_url,
        "integration": inst.integration,
        "number": inst.number,
        "businessId": None,
        "token": inst.token,
        "clientName": "evolution_exchange",
        "disconnectionReasonCode": inst.disconnection_code,
        "disconnectionObject": inst.disconnection_object,
        "disconnectionAt": iso(inst.disconnection_at) if inst.disconnection_at else None,
        "createdAt": iso(inst.created_at),
        "updatedAt": iso(inst.updated_at),
        "Chatwoot": None,
        "Proxy": None,
        "Rabbitmq": None,
        "Nats": None,
        "Sqs": None,
        "Websocket": None,
        "Setting": {**inst.settings, "instanceId": inst.id},
        "_count": {"Message": len(counts), "Contact": chats, "Chat": chats},
    }


@routes.post("/instance/restart/{instance}")
async def restart(request: web.Request) -> web.Response:
    """POST /instance/restart: errors come back as HTTP 200 {error: true}."""
    inst = instance_for(request)
    if inst.state not in ("open", "connecting"):
        return web.json_response(
            {"error": True, "message": f'The "{inst.name}" instance is not connected'}
        )
    return web.json_response(_sb(request).evolution.restart(inst))


@routes.delete("/instance/logout/{instance}")
async def logout(request: web.Request) -> web.Response:
    """DELETE /instance/logout: 400 when already closed; the logout itself is not awaited."""
    inst = instance_for(request)
    if inst.state not in ("open", "connecting"):
        raise bad_request(f'The "{inst.name}" instance is not connected')
    asyncio.get_running_loop().call_soon(_sb(request).evolution.close_for_good, inst, 401)
    return web.json_response(
        {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}
    )


@routes.delete("/instance/delete/{instance}")
async def delete(request: web.Request) -> web.Response:
    """DELETE /instance/delete: logs out first when open or connecting."""
    inst = instance_for(request)
    _sb(request).evolution.delete(inst)
    return web.json_response(
        {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}}
    )


@routes.post("/webhook/set/{instance}")
async def webhook_set(request: web.Request) -> web.Response:
    """POST /webhook/set: upsert the one webhook of the instance; 201 with the row."""
    sb = _sb(request)
    inst = instance_for(request)
    body = await read_body(request)
    require(body, "webhook")
    spec = body["webhook"]
    if not isinstance(spec, dict):
        raise schema_error("webhook is not of a type(s) object")
    require(spec, "enabled", "url", prefix="instance.webhook")
    inst.webhook = build_webhook(sb, spec, inst.webhook, False)
    return web.json_response(webhook_row(sb, inst), status=201)


@routes.get("/webhook/find/{instance}")
async def webhook_find(request: web.Request) -> web.Response:
    """GET /webhook/find: the row, or null."""
    return web.json_response(webhook_row(_sb(request), instance_for(request)))


def _connected(inst: EvoInstance) -> None:
    """Fail a send on a dead socket as Evolution does."""
    if inst.state != "open":
        raise EvolutionError(500, ["Error: Connection Closed"])


def _recipient(sb: Sandbox, body: dict[str, Any]) -> str:
    """Validate the number field and check it is on WhatsApp."""
    number = body["number"]
    if not isinstance(number, str):
        raise schema_error("number is not of a type(s) string")
    jid = to_jid(number)
    digits = jid.split("@")[0]
    if jid.endswith("@s.whatsapp.net") and not sb.is_on_whatsapp(digits):
        raise bad_request({"jid": jid, "exists": False, "number": number})
    return number


async def _typing(body: dict[str, Any]) -> None:
    """Block for `delay` ms, as Evolution shows "composing" before sending."""
    delay = body.get("delay")
    if isinstance(delay, (int, float)) and delay > 0:
        await asyncio.sleep(delay / 1000)


def _context(body: dict[str, Any]) -> dict[str, Any] | None:
    """Return contextInfo for a quoted message."""
    quoted = body.get("quoted")
    if not isinstance(quoted, dict) or not isinstance(quoted.get("key"), dict):
        return None
    key = quoted["key"]
    return {
        "stanzaId": key.get("id"),
        "participant": key.get("remoteJid"),
        "quotedMessage": quoted.get("message") or {},
    }


@routes.post("/message/sendText/{instance}")
async def send_text(request: web.Request) -> web.Response:
    """POST /message/sendText: 201 with the message (status PENDING)."""
    sb = _sb(request)
    inst = instance_for(request)
    body = await read_body(request)
    require(body, "number", "text")
    _connected(inst)
    number = _recipient(sb, body)
    await _typing(body)
    text = str(body["text"])
    payload = sb.evolution.send(
        inst, number, {"conversation": text}, "conversation", _context(body), text
    )
    return web.json_response(payload, status=201)


@routes.post("/message/sendMedia/{instance}")
async def send_media(request: web.Request) -> web.Response:
    """POST /message/sendMedia (JSON, or multipart with a file field): 201 with the message."""
    sb = _sb(request)
    inst = instance_for(request)
    body, uploaded = await _media_body(request)
    require(body, "number", "mediatype")
    if body["mediatype"] not in MEDIA_TYPES:
        raise schema_error(f"mediatype is not one of enum values: {','.join(MEDIA_TYPES)}")
    media = str(body.get("media") or "")
    if not uploaded and not _is_url_or_base64(media):
        raise bad_request("Owned media must be a url or base64")
    if (
        body["mediatype"] == "document"
        and not media.startswith("http")
        and not body.get("fileName")
    ):
        raise bad_request("For base64 the file name must be informed.")
    _connected(inst)
    number = _recipient(sb, body)
    await _typing(body)
    kind = body["mediatype"]
    message_type = f"{kind}Message"
    content = _media_content(body, media, kind)
    payload = sb.evolution.send(
        inst, number, {message_type: content}, message_type, _context(body), content.get("caption")
    )
    return web.json_response(payload, status=201)


async def _media_body(request: web.Request) -> tuple[dict[str, Any], bool]:
    """Read sendMedia input; return the fields and whether a file was uploaded."""
    if not request.content_type.startswith("multipart/"):
        return await read_body(request), False
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return fields, isinstance(form.get("file"), web.FileField)


def _is_url_or_base64(media: str) -> bool:
    """Tell whether media is an http(s) URL or valid base64."""
    if media.startswith(("http://", "https://")):
        return True
    try:
        return bool(media) and bool(base64.b64decode(media, validate=True))
    except (binascii.Error, ValueError):
        return False


def _media_content(body: dict[str, Any], media: str, kind: str) -> dict[str, Any]:
    """Return the Baileys media message object of a send."""
    file_name = body.get("fileName") or (
        media.rsplit("/", 1)[-1] if media.startswith("http") else None
    )
    mimetype = (
        body.get("mimetype") or (mimetypes.guess_type(file_name or "")[0]) or DEFAULT_MIME[kind]
    )
    content: dict[str, Any] = {
        "url": "https://mmg.whatsapp.net/v/t62.7118-24/sandbox.enc",
        "mimetype": mimetype,
    }
    # Baileys' audioMessage has no caption field: a caption given with audio is not sent.
    if body.get("caption") and kind != "audio":
        content["caption"] = body["caption"]
    if kind == "document":
        content.update(fileName=file_name or "document", title=file_name or "document")
    return content


@routes.post("/chat/whatsappNumbers/{instance}")
async def whatsapp_numbers(request: web.Request) -> web.Response:
    """POST /chat/whatsappNumbers: which numbers are on WhatsApp."""
    sb = _sb(request)
    instance_for(request)
    body = await read_body(request)
    require(body, "numbers")
    numbers = body["numbers"] if isinstance(body["numbers"], list) else []
    return web.json_response(
        [
            {"jid": to_jid(str(n)), "exists": sb.is_on_whatsapp(str(n)), "number": str(n)}
            for n in numbers
        ]
    )
