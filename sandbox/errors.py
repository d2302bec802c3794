"""Error shapes of both providers, as exceptions handlers raise and responses middleware renders."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web

# GreenAPI's Developer-plan quota error (reference 2.6, https://greenapi.com/en/docs/api/466-error-example-body).
QUOTA_EXCEEDED = 466
QUOTA_DESCRIPTION = (
    "Monthly quota has been exceeded. You can only send messages to 3 chats on the Developer plan."
)
QUOTA_BODY = {
    "invokeStatus": {
        "method": "checkwhatsapp",
        "used": 100,
        "total": 100,
        "status": "QUOTE_EXCEEDED",
        "description": QUOTA_DESCRIPTION,
    },
    "correspondentsStatus": {
        "method": "correspondents",
        "used": 3,
        "total": 3,
        "status": "CORRESPONDENTS_QUOTE_EXCEEDED",
        "description": QUOTA_DESCRIPTION,
    },
}


def reason(status: int) -> str:
    """Return the standard reason phrase of a status code."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class EvolutionError(Exception):
    """An Evolution error; message is a list (or the string "Unauthorized" for 401)."""

    def __init__(self, status: int, message: Any) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class GreenApiError(Exception):
    """A GreenAPI error, answered as plain text."""

    def __init__(self, status: int, text: str | None = None) -> None:
        super().__init__(f"{status}: {text}")
        self.status = status
        self.text = text if text is not None else reason(status)


def evolution_body(status: int, message: Any) -> dict[str, Any]:
    """Return Evolution's global error envelope (src/main.ts)."""
    return {"status": status, "error": reason(status), "response": {"message": message}}


def evolution_response(
    status: int, message: Any, headers: dict[str, str] | None = None
) -> web.Response:
    """Render an Evolution error."""
    return web.json_response(evolution_body(status, message), status=status, headers=headers)


def evolution_message(status: int) -> Any:
    """The message Evolution gives for a status (reference 1.2): a list, or "Unauthorized" (401)."""
    if status == 401:
        return "Unauthorized"
    if status == 500:
        return ["Error: Connection Closed"]
    return [reason(status)]


def greenapi_response(
    status: int, text: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    """Render a GreenAPI error: plain text, except 466, whose quota body is JSON (reference 2.6)."""
    if status == QUOTA_EXCEEDED and text is None:
        return web.json_response(QUOTA_BODY, status=status, headers=headers)
    return web.Response(
        status=status, text=text if text is not None else reason(status), headers=headers
    )


def custom_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """Render a body given by a fault: strings as plain text, anything else as JSON."""
    if isinstance(body, str):
        return web.Response(status=status, text=body, headers=headers)
    return web.json_response(body, status=status, headers=headers)


def unauthorized() -> EvolutionError:
    """Return Evolution's 401 (message is a string, not a list)."""
    return EvolutionError(401, "Unauthorized")


def bad_request(*messages: Any) -> EvolutionError:
    """Return an Evolution 400 with a flat message list."""
    return EvolutionError(400, list(messages))


def schema_error(*messages: str) -> EvolutionError:
    """Return an Evolution 400 for JSON-schema failures (a nested list)."""
    return EvolutionError(400, [list(messages)])


def validation_failed(details: str) -> GreenApiError:
    """Return GreenAPI's 400 for a bad request body."""
    return GreenApiError(400, f"Validation failed. Details: {details}")


class ControlError(Exception):
    """A control-API request that cannot be carried out (answered as {"error": message})."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
