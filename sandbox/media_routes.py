"""Evolution's media download: POST /chat/getBase64FromMediaMessage/{instance} (Corrections)."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from sandbox.errors import bad_request
from sandbox.evolution import instance_for, read_body
from sandbox.state import EVOLUTION, SANDBOX_KEY

routes = web.RouteTableDef()
MEDIA_TYPES = {
    "imageMessage": "image",
    "videoMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
    "ptvMessage": "ptv",
}


@routes.post("/chat/getBase64FromMediaMessage/{instance}")
async def get_base64(request: web.Request) -> web.Response:
    """The file of a message this instance received: 201 with base64, or 400 as Evolution does.

    Evolution takes `{"message": {key, message}}`, looks the message up by its key when the
    content is missing, and has Baileys download and decrypt it from WhatsApp's CDN.
    """
    sb = request.app[SANDBOX_KEY]
    inst = instance_for(request)
    body = await read_body(request)
    given = body.get("message")
    given = given if isinstance(given, dict) else {}
    key = given.get("key")
    message_id = str(key.get("id") or "") if isinstance(key, dict) else ""
    kept = sb.store.messages.get(message_id)
    found = sb.store.media.get(message_id)
    if kept is None or kept.provider != EVOLUTION or kept.instance != inst.name or found is None:
        raise bad_request("Message not found")
    content = given.get("message") if isinstance(given.get("message"), dict) else {}
    content = content or kept.payload.get("message") or {}
    kind = next((MEDIA_TYPES[k] for k in content if k in MEDIA_TYPES), None)
    if kind is None:
        raise bad_request("The message is not of the media type")
    detail: dict[str, Any] = next(v for k, v in content.items() if k in MEDIA_TYPES)
    mimetype, data = found
    return web.json_response(
        {
            "mediaType": kind,
            "fileName": detail.get("fileName") or f"{message_id}",
            "caption": detail.get("caption"),
            "size": {"fileLength": len(data), "height": None, "width": None},
            "mimetype": mimetype,
            "base64": base64.b64encode(data).decode(),
            "buffer": None,
        },
        status=201,
    )
