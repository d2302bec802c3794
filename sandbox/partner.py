"""GreenAPI Partner API: GET /partner/getInstances/{partnerToken} lists the partner's instances."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sandbox.state import SANDBOX_KEY, GreenInstance

PREFIX = "/partner/"
# GreenAPI writes times without a zone, and this zero time for an instance that is not deleted.
NOT_DELETED = "0001-01-01T00:00:00"
MONTH = 30 * 86400
# A wrong partner token is refused in a 200 body, not with a 401 status.
UNAUTHORIZED = {"code": 401, "description": "Unauthorized"}


def stamp(epoch: float) -> str:
    """Format a sandbox time as GreenAPI does (UTC, no zone suffix)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def instance_row(inst: GreenInstance, deleted_at: float | None = None) -> dict[str, Any]:
    """One getInstances row, with the fields of the partner documentation."""
    return {
        "idInstance": inst.id,
        "name": f"Instance {inst.id}",
        "typeInstance": "whatsapp",
        "typeAccount": "",
        "partnerUserUiid": "",
        "timeCreated": stamp(inst.created_at),
        "timeDeleted": NOT_DELETED if deleted_at is None else stamp(deleted_at),
        "apiTokenInstance": inst.token,
        "deleted": deleted_at is not None,
        "tariff": "BUSINESS",
        "isFree": False,
        "isPartner": True,
        "expirationDate": stamp(inst.created_at + MONTH),
        "isExpired": False,
    }


async def get_instances(request: web.Request) -> web.Response:
    """getInstances: live instances, then deleted ones (GreenAPI keeps listing them)."""
    sb = request.app[SANDBOX_KEY]
    token = request.match_info["token"]
    if not hmac.compare_digest(token.encode(), sb.config.greenapi_partner_token.encode()):
        return web.json_response(UNAUTHORIZED)
    rows = [instance_row(inst) for inst in sb.store.greenapi.values()]
    rows += [instance_row(inst, at) for inst, at in sb.store.greenapi_deleted.values()]
    return web.json_response(rows)


def add_routes(app: web.Application) -> None:
    """Register the Partner API routes."""
    app.router.add_get(PREFIX + "getInstances/{token}", get_instances)
