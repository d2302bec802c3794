"""Evolution instance lifecycle over HTTP: create, QR cycle, scan, disconnects, logout, delete."""

from __future__ import annotations

import base64

from sandbox.testing import SandboxServer, WebhookReceiver
from sandbox.tests.helpers import create_evolution, evo, open_evolution


def state_of(sandbox: SandboxServer, name: str = "wa1") -> str:
    """Return connectionState of an instance."""
    state: str = evo(sandbox, "GET", f"/instance/connectionState/{name}").json()["instance"][
        "state"
    ]
    return state


def test_create_with_qrcode_returns_token_and_a_real_png_qr(sandbox: SandboxServer) -> None:
    created = create_evolution(sandbox, None)
    assert created["instance"]["status"] == "connecting"
    assert created["instance"]["integration"] == "WHATSAPP-BAILEYS"
    assert isinstance(created["hash"], str) and created["hash"] == created["hash"].upper()
    qr = created["qrcode"]
    assert qr["count"] == 1 and qr["pairingCode"] is None and qr["code"].startswith("2@")
    assert qr["base64"].startswith("data:image/png;base64,")
    assert base64.b64decode(qr["base64"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert state_of(sandbox) == "connecting"


def test_create_without_qrcode_is_close_and_has_no_qrcode(sandbox: SandboxServer) -> None:
    created = create_evolution(sandbox, None, qrcode=False)
    assert created["instance"]["status"] == "close" and "qrcode" not in created
    assert state_of(sandbox) == "close"


def test_qr_refreshes_until_limit_then_state_is_refused(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    sandbox.settings(evolution_qr_seconds=20, evolution_qr_limit=3)
    create_evolution(sandbox, receiver)
    receiver.wait_for_event("qrcode.updated", 1)
    first = evo(sandbox, "GET", "/instance/connect/wa1").json()
    sandbox.advance(20)
    receiver.wait_for_event("qrcode.updated", 2)
    second = evo(sandbox, "GET", "/instance/connect/wa1").json()
    assert (first["count"], second["count"]) == (1, 2) and first["code"] != second["code"]
    sandbox.advance(40)
    updates = receiver.wait_for_event("qrcode.updated", 4)
    receiver.wait_for(lambda got: any(r.body["data"].get("state") == "refused" for r in got))
    assert [u.body["data"].get("qrcode", {}).get("code") is not None for u in updates] == [
        True,
        True,
        True,
        False,
    ]
    assert updates[-1].body["data"] == {
        "message": "QR code limit reached, please login again",
        "statusCode": 500,
    }
    refused = [
        r.body["data"]
        for r in receiver.of("connection.update")
        if r.body["data"]["state"] == "refused"
    ]
    assert refused == [{"instance": "wa1", "state": "refused", "statusReason": 428}]
    # Only the webhook says refused; connectionState answers close (Corrections and additions).
    assert state_of(sandbox) == "close"
    assert (
        evo(sandbox, "GET", "/instance/connect/wa1").json()["count"] == 1
    )  # connect starts a new cycle


def test_scan_moves_to_open_and_emits_connection_update_open(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    create_evolution(sandbox, receiver)
    sandbox.scan("evolution", "wa1", phone="5511999990000", profileName="Acme")
    opened = receiver.wait_for(
        lambda got: any(
            r.event == "connection.update" and r.body["data"]["state"] == "open" for r in got
        )
    )
    event = [r for r in opened if r.event == "connection.update"][-1]
    assert event.body["data"] == {
        "instance": "wa1",
        "wuid": "5511999990000@s.whatsapp.net",
        "profileName": "Acme",
        "profilePictureUrl": None,
        "state": "open",
        "statusReason": 200,
    }
    assert event.body["sender"] == "5511999990000@s.whatsapp.net"
    assert event.headers["X-Webhook-Token"] == "s3cret"
    assert state_of(sandbox) == "open"
    assert evo(sandbox, "GET", "/instance/connect/wa1").json() == {
        "instance": {"instanceName": "wa1", "state": "open"}
    }


def test_webhook_envelope_has_the_documented_fields(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    create_evolution(sandbox, receiver)
    hook = receiver.wait_for_event("qrcode.updated")[0]
    assert set(hook.body) == {
        "event",
        "instance",
        "data",
        "destination",
        "date_time",
        "server_url",
        "apikey",
    }
    assert hook.body["instance"] == "wa1" and hook.body["destination"] == receiver.url
    assert hook.body["apikey"] is None and hook.body["server_url"] == sandbox.base_url
    assert hook.body["date_time"].endswith("Z")
    assert hook.body["data"]["qrcode"]["base64"].startswith("data:image/png;base64,")


def test_connect_with_number_gives_an_8_character_pairing_code(sandbox: SandboxServer) -> None:
    create_evolution(sandbox, None, qrcode=False)
    qr = evo(sandbox, "GET", "/instance/connect/wa1", params={"number": "5511999990000"}).json()
    assert len(qr["pairingCode"]) == 8 and qr["pairingCode"].isalnum()
    sandbox.scan("evolution", "wa1", code=qr["pairingCode"])
    assert state_of(sandbox) == "open"


def test_connect_ignores_number_while_connecting(sandbox: SandboxServer) -> None:
    create_evolution(sandbox, None)
    qr = evo(sandbox, "GET", "/instance/connect/wa1", params={"number": "5511999990000"}).json()
    assert qr["pairingCode"] is None and qr["count"] == 1


def test_connection_lost_reconnects_silently(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    receiver.clear()
    result = sandbox.control(
        "POST", "/evolution/instances/wa1/disconnect", {"reason": "connection_lost"}
    )
    assert result["result"] == 408 and state_of(sandbox) == "connecting"
    sandbox.advance(2)
    receiver.wait_for(lambda got: len(got) >= 2)
    assert [r.body["data"]["state"] for r in receiver.received] == ["connecting", "open"]
    assert state_of(sandbox) == "open"


def test_logged_out_from_phone_closes_with_401_and_logout_event(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    receiver.clear()
    sandbox.control("POST", "/evolution/instances/wa1/disconnect", {"reason": "logged_out"})
    got = receiver.wait_for(lambda got: len(got) >= 3)
    assert [r.event for r in got] == ["status.instance", "connection.update", "logout.instance"]
    assert (
        got[0].body["data"]["disconnectionReasonCode"] == 401
        and got[0].body["data"]["status"] == "closed"
    )
    assert got[1].body["data"] == {"instance": "wa1", "state": "close", "statusReason": 401}
    assert got[2].body["data"] is None
    assert state_of(sandbox) == "close"
    row = evo(sandbox, "GET", "/instance/fetchInstances", params={"instanceName": "wa1"}).json()[0]
    assert row["connectionStatus"] == "close" and row["disconnectionReasonCode"] == 401


def test_bad_session_reconnects_with_a_new_qr(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    receiver.clear()
    sandbox.control("POST", "/evolution/instances/wa1/disconnect", {"reason": "bad_session"})
    receiver.wait_for_event("qrcode.updated")
    assert state_of(sandbox) == "connecting"


def test_ban_closes_with_403(sandbox: SandboxServer, receiver: WebhookReceiver) -> None:
    open_evolution(sandbox, receiver)
    sandbox.control("POST", "/evolution/instances/wa1/ban")
    closed = receiver.wait_for(
        lambda got: any(
            r.event == "connection.update" and r.body["data"]["state"] == "close" for r in got
        )
    )
    assert [r.body["data"]["statusReason"] for r in closed if r.event == "connection.update"][
        -1
    ] == 403


def test_logout_succeeds_then_is_refused_when_already_closed(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    response = evo(sandbox, "DELETE", "/instance/logout/wa1")
    assert response.status_code == 200
    assert response.json() == {
        "status": "SUCCESS",
        "error": False,
        "response": {"message": "Instance logged out"},
    }
    receiver.wait_for_event("logout.instance")
    again = evo(sandbox, "DELETE", "/instance/logout/wa1")
    assert again.status_code == 400
    assert again.json() == {
        "status": 400,
        "error": "Bad Request",
        "response": {"message": ['The "wa1" instance is not connected']},
    }
    assert evo(sandbox, "GET", "/instance/connect/wa1").json()["count"] == 1  # reconnectable


def test_delete_logs_out_sends_instance_delete_and_forgets_the_name(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    response = evo(sandbox, "DELETE", "/instance/delete/wa1")
    assert response.json() == {
        "status": "SUCCESS",
        "error": False,
        "response": {"message": "Instance deleted"},
    }
    deleted = receiver.wait_for_event("instance.delete")[0]
    assert deleted.body["data"]["instanceName"] == "wa1"
    assert "logout.instance" in receiver.events()
    assert evo(sandbox, "GET", "/instance/connectionState/wa1").status_code == 404
    create_evolution(sandbox, None)  # the name is free again


def test_restart_of_a_closed_instance_answers_200_with_error_true(sandbox: SandboxServer) -> None:
    create_evolution(sandbox, None, qrcode=False)
    response = evo(sandbox, "POST", "/instance/restart/wa1")
    assert response.status_code == 200 and response.json()["error"] is True


def test_fetch_instances_lists_rows_with_token(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    created = open_evolution(sandbox, receiver)
    rows = evo(sandbox, "GET", "/instance/fetchInstances").json()
    assert len(rows) == 1
    row = rows[0]
    assert (
        row["name"] == "wa1"
        and row["token"] == created["hash"]
        and row["connectionStatus"] == "open"
    )
    assert row["ownerJid"] == "5511999990000@s.whatsapp.net" and row["profileName"] == "Acme"
    assert row["Setting"]["rejectCall"] is False and set(row["_count"]) == {
        "Message",
        "Contact",
        "Chat",
    }


def test_webhook_set_and_find_round_trip(sandbox: SandboxServer, receiver: WebhookReceiver) -> None:
    create_evolution(sandbox, None, qrcode=False)
    assert evo(sandbox, "GET", "/webhook/find/wa1").json() is None
    body = {
        "webhook": {
            "enabled": True,
            "url": receiver.url,
            "headers": {"X-Webhook-Token": "t"},
            "byEvents": True,
            "base64": False,
            "events": ["CONNECTION_UPDATE"],
        }
    }
    response = evo(sandbox, "POST", "/webhook/set/wa1", json=body)
    assert response.status_code == 201
    row = evo(sandbox, "GET", "/webhook/find/wa1").json()
    assert (
        row["url"] == receiver.url
        and row["events"] == ["CONNECTION_UPDATE"]
        and row["webhookByEvents"] is True
    )
    evo(sandbox, "GET", "/instance/connect/wa1")
    hook = receiver.wait_for_event("connection.update")[0]
    assert hook.path == "/hook/connection-update" and receiver.events() == ["connection.update"]


def test_webhook_set_rejects_unknown_events_and_missing_fields(sandbox: SandboxServer) -> None:
    create_evolution(sandbox, None, qrcode=False)
    missing = evo(sandbox, "POST", "/webhook/set/wa1", json={"url": "http://127.0.0.1:9/x"})
    assert missing.status_code == 400
    assert missing.json()["response"]["message"] == [['instance requires property "webhook"']]
    bad = evo(
        sandbox,
        "POST",
        "/webhook/set/wa1",
        json={"webhook": {"enabled": True, "url": "http://127.0.0.1:9/x", "events": ["NOPE"]}},
    )
    assert (
        bad.status_code == 400
        and "is not one of enum values" in bad.json()["response"]["message"][0][0]
    )
