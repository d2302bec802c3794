"""Control API under /_sandbox/: scans, disconnects, inbound messages, receipts, faults, clock."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox import edges, receipts
from sandbox.errors import ControlError
from sandbox.evolution_sim import RECEIPT_STATUS
from sandbox.greenapi_sim import RECEIPT_STATUSES
from sandbox.page import PAGE
from sandbox.state import (
    EVOLUTION,
    GREENAPI,
    PROVIDERS,
    SANDBOX_KEY,
    EvoInstance,
    GreenInstance,
    Sandbox,
)

PREFIX = "/_sandbox"
routes = web.RouteTableDef()


def _sb(request: web.Request) -> Sandbox:
    """Return the sandbox behind a request."""
    return request.app[SANDBOX_KEY]


async def _body(request: web.Request) -> dict[str, Any]:
    """Parse an optional JSON object body."""
    if not request.body_exists:
        return {}
    try:
        data = await request.json()
    except ValueError as exc:
        raise ControlError(400, "body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def _find(sb: Sandbox, provider: str, key: str) -> EvoInstance | GreenInstance:
    """Find an instance by provider and key (Evolution name or GreenAPI idInstance)."""
    if provider not in PROVIDERS:
        raise ControlError(404, f"provider must be one of {', '.join(PROVIDERS)}")
    found: EvoInstance | GreenInstance | None = None
    if provider == EVOLUTION:
        found = sb.store.evolution.get(key)
    elif key.isdigit():
        found = sb.store.greenapi.get(int(key))
    if found is None:
        raise ControlError(404, f"no {provider} instance {key!r}")
    return found


def _instance(request: web.Request) -> EvoInstance | GreenInstance:
    """Find the instance named in the path."""
    return _find(_sb(request), request.match_info["provider"], request.match_info["key"])


def describe(sb: Sandbox, inst: EvoInstance | GreenInstance) -> dict[str, Any]:
    """Return the control view of any instance."""
    if isinstance(inst, EvoInstance):
        return sb.evolution.describe(inst)
    return sb.greenapi.describe(inst)


def snapshot(sb: Sandbox) -> dict[str, Any]:
    """Return everything the page and tests want to see at once."""
    instances = [sb.evolution.describe(i) for i in sb.store.evolution.values()]
    instances += [sb.greenapi.describe(i) for i in sb.store.greenapi.values()]
    return {
        "clock": clock_view(sb),
        "instances": instances,
        "faults": sb.faults.as_dict(),
        "webhooksPending": sb.webhooks.pending,
        "messages": len(sb.store.messages),
        "evolutionUrl": sb.config.base_url(),
        "greenapiUrl": sb.config.base_url(),
    }


def clock_view(sb: Sandbox) -> dict[str, Any]:
    """Return the clock mode and time."""
    return {
        "mode": "manual" if sb.clock.manual else "real",
        "now": sb.clock.now(),
        "iso": sb.clock.iso(),
        "pendingTimers": sb.clock.pending(),
    }


@routes.get(PREFIX + "/")
async def page(request: web.Request) -> web.Response:
    """The demo page."""
    return web.Response(text=PAGE, content_type="text/html")


@routes.get(PREFIX + "/state")
async def state(request: web.Request) -> web.Response:
    """Everything at once."""
    return web.json_response(snapshot(_sb(request)))


@routes.post(PREFIX + "/reset")
async def reset(request: web.Request) -> web.Response:
    """Forget instances, messages, faults and webhook log; restore boot settings."""
    sb = _sb(request)
    sb.reset()
    return web.json_response(snapshot(sb))


@routes.get(PREFIX + "/clock")
async def clock(request: web.Request) -> web.Response:
    """The clock."""
    return web.json_response(clock_view(_sb(request)))


@routes.post(PREFIX + "/clock/advance")
async def advance(request: web.Request) -> web.Response:
    """Move the manual clock forward: {"seconds": n}."""
    sb = _sb(request)
    if not sb.clock.manual:
        raise ControlError(409, "the clock is real; start the sandbox with --clock manual")
    seconds = (await _body(request)).get("seconds", 0)
    if not isinstance(seconds, (int, float)) or seconds < 0:
        raise ControlError(400, "seconds must be a non-negative number")
    fired = sb.clock.advance(float(seconds))
    return web.json_response({**clock_view(sb), "fired": fired})


@routes.get(PREFIX + "/settings")
async def get_settings(request: web.Request) -> web.Response:
    """The current settings."""
    return web.json_response(_sb(request).config.as_dict())


@routes.post(PREFIX + "/settings")
async def set_settings(request: web.Request) -> web.Response:
    """Change runtime settings by name, e.g. {"receipt_order": "reverse"}."""
    sb = _sb(request)
    try:
        sb.config.update(await _body(request), allow_boot=False)
    except ValueError as exc:
        raise ControlError(400, str(exc)) from exc
    return web.json_response(sb.config.as_dict())


@routes.get(PREFIX + "/faults")
async def get_faults(request: web.Request) -> web.Response:
    """The current faults."""
    return web.json_response(_sb(request).faults.as_dict())


@routes.post(PREFIX + "/faults")
async def set_faults(request: web.Request) -> web.Response:
    """Merge fault settings, e.g. {"error_rate": 1, "count": 2}."""
    sb = _sb(request)
    try:
        sb.faults.update(await _body(request))
    except (TypeError, ValueError) as exc:
        raise ControlError(400, str(exc)) from exc
    return web.json_response(sb.faults.as_dict())


@routes.delete(PREFIX + "/faults")
async def clear_faults(request: web.Request) -> web.Response:
    """Remove every fault."""
    sb = _sb(request)
    sb.faults.reset()
    return web.json_response(sb.faults.as_dict())


@routes.post(PREFIX + "/greenapi/instances")
async def create_greenapi(request: web.Request) -> web.Response:
    """Create a GreenAPI instance: {"idInstance"?, "apiTokenInstance"?, "settings"?}."""
    sb = _sb(request)
    body = await _body(request)
    id_instance = body.get("idInstance")
    if id_instance is not None and (
        isinstance(id_instance, bool) or not isinstance(id_instance, int)
    ):
        raise ControlError(400, "idInstance must be an integer")
    settings = body.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise ControlError(400, "settings must be an object")
    inst = sb.greenapi.create(id_instance, body.get("apiTokenInstance"), settings)
    base = sb.config.base_url()
    return web.json_response(
        {
            "idInstance": inst.id,
            "apiTokenInstance": inst.token,
            "apiUrl": base,
            "mediaUrl": base,
            "stateInstance": inst.state,
        },
        status=201,
    )


@routes.delete(PREFIX + "/greenapi/instances/{key}")
async def delete_greenapi(request: web.Request) -> web.Response:
    """Delete a GreenAPI instance."""
    inst = _find(_sb(request), GREENAPI, request.match_info["key"])
    if not isinstance(inst, GreenInstance):
        raise ControlError(404, f"no {GREENAPI} instance {request.match_info['key']!r}")
    _sb(request).greenapi.delete(inst)
    return web.json_response({"deleted": inst.id})


@routes.get(PREFIX + "/{provider}/instances/{key}")
async def get_instance(request: web.Request) -> web.Response:
    """One instance, with its QR image and pairing code."""
    return web.json_response(describe(_sb(request), _instance(request)))


@routes.post(PREFIX + "/{provider}/instances/{key}/scan")
async def scan(request: web.Request) -> web.Response:
    """Simulate a scan: {"phone"?, "profileName"?, "code"? (QR content or pairing code)}."""
    sb, inst, body = _sb(request), _instance(request), await _body(request)
    args = (body.get("phone"), body.get("profileName"), body.get("code"))
    if isinstance(inst, EvoInstance):
        sb.evolution.scan(inst, *args)
    else:
        sb.greenapi.scan(inst, *args)
    return web.json_response(describe(sb, inst))


@routes.post(PREFIX + "/{provider}/instances/{key}/disconnect")
async def disconnect(request: web.Request) -> web.Response:
    """Simulate a disconnect: {"reason": "connection_lost"|"logged_out"|..., "recover"?}."""
    sb, inst, body = _sb(request), _instance(request), await _body(request)
    reason, recover = str(body.get("reason", "connection_lost")), bool(body.get("recover", True))
    if isinstance(inst, EvoInstance):
        result: Any = sb.evolution.disconnect(inst, reason, recover)
    else:
        result = sb.greenapi.disconnect(inst, reason, recover)
    return web.json_response({"result": result, "instance": describe(sb, inst)})


@routes.post(PREFIX + "/{provider}/instances/{key}/ban")
async def ban(request: web.Request) -> web.Response:
    """Simulate a ban: Evolution closes with 403, GreenAPI goes blocked."""
    sb, inst = _sb(request), _instance(request)
    if isinstance(inst, EvoInstance):
        sb.evolution.disconnect(inst, "forbidden")
    else:
        sb.greenapi.disconnect(inst, "forbidden")
    return web.json_response(describe(sb, inst))


@routes.post(PREFIX + "/{provider}/instances/{key}/inbound")
async def inbound(request: web.Request) -> web.Response:
    """A message from a phone: {"from", "text"?, "media"?, "pushName"?, "lid"? / "addressing"?,
    "group"?, "replyTo"?}."""
    sb, inst, body = _sb(request), _instance(request), await _body(request)
    sender = str(body.get("from") or "")
    if not any(ch.isdigit() for ch in sender):
        raise ControlError(400, "from must be a phone number")
    media = body.get("media")
    if media is not None and not isinstance(media, dict):
        raise ControlError(400, "media must be an object")
    text = None if body.get("text") is None else str(body["text"])
    digits = "".join(ch for ch in sender if ch.isdigit())
    lid = bool(body.get("lid")) or body.get("addressing") == "lid"
    if isinstance(inst, EvoInstance):
        shape = edges.inbound_shape(
            sb, EVOLUTION, digits, {**body, "addressing": "lid" if lid else "pn"}
        )
        msg = sb.evolution.inbound(inst, sender, text, media, body.get("pushName"), lid, shape)
    else:
        shape = edges.inbound_shape(sb, GREENAPI, digits, body)
        msg = sb.greenapi.inbound(inst, sender, text, media, body.get("pushName"), shape)
    return web.json_response({**msg.as_dict(), "payload": msg.payload}, status=201)


@routes.get(PREFIX + "/messages")
async def messages(request: web.Request) -> web.Response:
    """Messages sent and received, filtered by ?provider=, ?instance=, ?direction=."""
    query = request.query
    found = [
        m.as_dict()
        for m in _sb(request).store.messages.values()
        if all(query.get(k) in (None, getattr(m, k)) for k in ("provider", "instance", "direction"))
    ]
    return web.json_response(found)


@routes.get(PREFIX + "/messages/{message_id}")
async def message(request: web.Request) -> web.Response:
    """One message."""
    msg = _sb(request).store.messages.get(request.match_info["message_id"])
    if msg is None:
        raise ControlError(404, "no such message")
    return web.json_response({**msg.as_dict(), "payload": msg.payload})


@routes.post(PREFIX + "/messages/{message_id}/receipts")
async def send_receipts(request: web.Request) -> web.Response:
    """Emit receipts as listed (any order, repeats allowed): {"statuses": [...], "interval"?: s}."""
    sb, body = _sb(request), await _body(request)
    msg = sb.store.messages.get(request.match_info["message_id"])
    if msg is None or msg.direction != "outbound":
        raise ControlError(404, "no outbound message with that id")
    statuses = body.get("statuses")
    allowed = RECEIPT_STATUS if msg.provider == EVOLUTION else RECEIPT_STATUSES
    if not isinstance(statuses, list) or not statuses or any(s not in allowed for s in statuses):
        raise ControlError(400, f"statuses must be a non-empty list of {', '.join(allowed)}")
    interval = body.get("interval", 0)
    if not isinstance(interval, (int, float)) or interval < 0:
        raise ControlError(400, "interval must be a non-negative number")
    emit = sb.evolution.emit_receipt if msg.provider == EVOLUTION else sb.greenapi.emit_receipt
    receipts.schedule_manual(sb, msg, statuses, float(interval), emit)
    return web.json_response(msg.as_dict())


@routes.post(PREFIX + "/numbers")
async def numbers(request: web.Request) -> web.Response:
    """Say whether a number is on WhatsApp: {"number", "onWhatsApp": false}."""
    sb, body = _sb(request), await _body(request)
    digits = "".join(ch for ch in str(body.get("number") or "") if ch.isdigit())
    if not digits:
        raise ControlError(400, "number is required")
    if body.get("onWhatsApp", False):
        sb.store.not_on_whatsapp.discard(digits)
    else:
        sb.store.not_on_whatsapp.add(digits)
    return web.json_response({"number": digits, "onWhatsApp": sb.is_on_whatsapp(digits)})


@routes.get(PREFIX + "/webhooks")
async def webhooks(request: web.Request) -> web.Response:
    """Webhook deliveries, oldest first: ?instance=, ?event=, ?limit=."""
    sb, query = _sb(request), request.query
    limit = int(query.get("limit", "200")) if query.get("limit", "200").isdigit() else 200
    entries = sb.webhooks.entries(query.get("instance"), query.get("event"), limit)
    return web.json_response(
        {"pending": sb.webhooks.pending, "deliveries": [d.as_dict() for d in entries]}
    )


@routes.delete(PREFIX + "/webhooks")
async def clear_webhooks(request: web.Request) -> web.Response:
    """Forget the delivery log."""
    _sb(request).webhooks.clear()
    return web.json_response({"pending": _sb(request).webhooks.pending, "deliveries": []})
