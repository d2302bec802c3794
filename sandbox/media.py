"""Media of simulated inbound messages, kept so the download URLs in webhooks work."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.errors import ControlError
from sandbox.qr import png_base64
from sandbox.state import SANDBOX_KEY, Sandbox

DEFAULT_MIME = {
    "image": "image/png",
    "video": "video/mp4",
    "audio": "audio/ogg; codecs=opus",
    "document": "application/pdf",
}
DEFAULT_NAME = {
    "image": "image.png",
    "video": "video.mp4",
    "audio": "audio.ogg",
    "document": "document.pdf",
}
MEDIA_TYPES = tuple(DEFAULT_MIME)


@dataclass
class Media:
    """A media attachment of a simulated inbound message."""

    kind: str
    mimetype: str
    file_name: str
    caption: str | None
    data: bytes
    url: str

    def base64(self) -> str:
        """Return the bytes as bare base64."""
        return base64.b64encode(self.data).decode()


def default_bytes(kind: str, message_id: str) -> bytes:
    """Return placeholder bytes: a real PNG for images, a short marker otherwise."""
    if kind == "image":
        return base64.b64decode(png_base64(f"sandbox media {message_id}"))
    if kind == "document":
        return b"%PDF-1.4\n% sandbox document\n%%EOF\n"
    return f"sandbox {kind} {message_id}".encode()


def inbound_media(sb: Sandbox, spec: dict[str, Any], message_id: str) -> Media:
    """Build (and keep) a request's media: type, mimetype, fileName, caption, base64, url."""
    kind = str(spec.get("type", "image"))
    if kind not in MEDIA_TYPES:
        raise ControlError(400, f"media type must be one of {', '.join(MEDIA_TYPES)}")
    try:
        data = base64.b64decode(spec["base64"], validate=True) if spec.get("base64") else None
    except (binascii.Error, ValueError) as exc:
        raise ControlError(400, "media base64 is not valid base64") from exc
    data = data if data is not None else default_bytes(kind, message_id)
    mimetype = str(spec.get("mimetype") or DEFAULT_MIME[kind])
    sb.store.media[message_id] = (mimetype, data)
    url = str(spec.get("url") or f"{sb.config.base_url()}/media/{message_id}")
    caption = spec.get("caption")
    return Media(
        kind,
        mimetype,
        str(spec.get("fileName") or DEFAULT_NAME[kind]),
        None if caption is None else str(caption),
        data,
        url,
    )


async def serve_media(request: web.Request) -> web.Response:
    """Serve the bytes of a simulated inbound media message."""
    sb = request.app[SANDBOX_KEY]
    found = sb.store.media.get(request.match_info["media_id"])
    if found is None:
        raise web.HTTPNotFound(text="Not Found")
    return web.Response(body=found[1], content_type=found[0].split(";")[0])
