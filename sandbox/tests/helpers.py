"""Helpers shared by the sandbox tests: call the APIs and set up instances."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.testing import SandboxServer, WebhookReceiver

GLOBAL_KEY = "sandbox-global-key"
ALL_EVENTS: list[str] = []


def evo(
    sandbox: SandboxServer, method: str, path: str, key: str | None = GLOBAL_KEY, **kwargs: Any
) -> requests.Response:
    """Call the Evolution API of the sandbox with an apikey header."""
    headers = {"apikey": key} if key is not None else {}
    return requests.request(method, sandbox.base_url + path, headers=headers, timeout=5, **kwargs)


def create_evolution(
    sandbox: SandboxServer, receiver: WebhookReceiver | None, name: str = "wa1", **extra: Any
) -> dict[str, Any]:
    """Create an Evolution instance (qrcode on) whose webhook points at the receiver."""
    body: dict[str, Any] = {
        "instanceName": name,
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": True,
        **extra,
    }
    if receiver is not None:
        body["webhook"] = {
            "url": receiver.url,
            "byEvents": False,
            "base64": False,
            "headers": {"X-Webhook-Token": "s3cret"},
            "events": ALL_EVENTS,
        }
    response = evo(sandbox, "POST", "/instance/create", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def open_evolution(
    sandbox: SandboxServer,
    receiver: WebhookReceiver,
    name: str = "wa1",
    phone: str = "5511999990000",
) -> dict[str, Any]:
    """Create an Evolution instance and scan it, waiting for the open event."""
    created = create_evolution(sandbox, receiver, name)
    sandbox.scan("evolution", name, phone=phone, profileName="Acme")
    receiver.wait_for(
        lambda got: any(
            r.event == "connection.update" and r.body["data"]["state"] == "open" for r in got
        )
    )
    return created


def green(
    sandbox: SandboxServer, instance: dict[str, Any], method: str, http: str = "GET", **kwargs: Any
) -> requests.Response:
    """Call a GreenAPI method of an instance."""
    token = instance["apiTokenInstance"]
    url = f"{sandbox.base_url}/waInstance{instance['idInstance']}/{method}/{token}"
    return requests.request(http, url, timeout=5, **kwargs)


def green_with_webhooks(
    sandbox: SandboxServer, receiver: WebhookReceiver, token: str = "hook-token"
) -> dict[str, Any]:
    """Create a GreenAPI instance with every notification on, pointed at the receiver."""
    flags = ("incomingWebhook", "outgoingWebhook", "outgoingAPIMessageWebhook", "stateWebhook")
    return sandbox.create_greenapi_instance(
        settings={"webhookUrl": receiver.url, "webhookUrlToken": token, **{f: "yes" for f in flags}}
    )
