"""Injected faults: error statuses and bodies, 429, hangs, drops, latency, connect and webhook."""

from __future__ import annotations

import logging
import time

import pytest
import requests

from sandbox.errors import QUOTA_BODY
from sandbox.testing import SandboxServer, WebhookReceiver
from sandbox.tests.helpers import create_evolution, evo, green, open_evolution


def test_error_fault_gives_evolution_500_body_then_clears_after_count(
    sandbox: SandboxServer,
) -> None:
    create_evolution(sandbox, None)
    sandbox.faults(error_rate=1, count=1)
    failed = evo(sandbox, "GET", "/instance/connectionState/wa1")
    assert failed.status_code == 500
    assert failed.json() == {
        "status": 500,
        "error": "Internal Server Error",
        "response": {"message": ["Error: Connection Closed"]},
    }
    assert evo(sandbox, "GET", "/instance/connectionState/wa1").status_code == 200


def test_error_fault_with_another_5xx_status(sandbox: SandboxServer) -> None:
    sandbox.faults(error_rate=1, error_status=503)
    response = evo(sandbox, "GET", "/instance/fetchInstances")
    assert response.status_code == 503 and response.json()["error"] == "Service Unavailable"


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (400, "Bad Request"),
        (403, "Forbidden"),
        (404, "Not Found"),
        (408, "Request Timeout"),
        (422, "Unprocessable Entity"),
    ],
)
def test_error_fault_gives_any_client_status_in_the_evolution_envelope(
    sandbox: SandboxServer, status: int, phrase: str
) -> None:
    sandbox.faults(error_rate=1, error_status=status)
    response = evo(sandbox, "GET", "/instance/fetchInstances")
    assert response.status_code == status
    assert response.json() == {"status": status, "error": phrase, "response": {"message": [phrase]}}


def test_error_fault_401_carries_the_string_unauthorized_as_evolution_does(
    sandbox: SandboxServer,
) -> None:
    sandbox.faults(error_rate=1, error_status=401)
    response = evo(sandbox, "GET", "/instance/fetchInstances")
    assert response.json() == {
        "status": 401,
        "error": "Unauthorized",
        "response": {"message": "Unauthorized"},
    }


def test_greenapi_error_fault_answers_client_statuses_as_plain_text(sandbox: SandboxServer) -> None:
    inst = sandbox.create_greenapi_instance()
    sandbox.faults(error_rate=1, error_status=404, count=1)
    response = green(sandbox, inst, "getStateInstance")
    assert (response.status_code, response.text) == (404, "Not Found")
    assert response.headers["Content-Type"].startswith("text/plain")


def test_greenapi_466_fault_gives_the_documented_quota_body(sandbox: SandboxServer) -> None:
    inst = sandbox.create_greenapi_instance()
    sandbox.faults(error_rate=1, error_status=466)
    response = green(sandbox, inst, "checkWhatsapp", "POST", json={"phoneNumber": 79001234567})
    assert response.status_code == 466 and response.json() == QUOTA_BODY


def test_error_fault_serves_a_custom_json_body_even_with_status_200(sandbox: SandboxServer) -> None:
    create_evolution(sandbox, None)
    opaque = {"error": True, "message": "[object Object]"}
    sandbox.faults(
        error_rate=1, error_status=200, error_body=opaque, path_contains="connectionState"
    )
    response = evo(sandbox, "GET", "/instance/connectionState/wa1")
    assert response.status_code == 200 and response.json() == opaque


def test_error_fault_serves_a_text_body_verbatim(sandbox: SandboxServer) -> None:
    page = "<html><body>502 Bad Gateway</body></html>"
    sandbox.faults(error_rate=1, error_status=502, error_body=page)
    response = evo(sandbox, "GET", "/instance/fetchInstances")
    assert (response.status_code, response.text) == (502, page)


def test_rate_limit_fault_serves_a_custom_body_with_its_retry_after(sandbox: SandboxServer) -> None:
    sandbox.faults(rate_limit_rate=1, retry_after=9, error_body={"message": "slow down"})
    response = evo(sandbox, "GET", "/instance/fetchInstances")
    assert response.status_code == 429 and response.headers["Retry-After"] == "9"
    assert response.json() == {"message": "slow down"}


@pytest.mark.parametrize(
    "values", [{"error_status": 302}, {"error_status": 600}, {"error_status": 200}]
)
def test_error_status_must_be_an_error_or_a_2xx_with_a_body(
    sandbox: SandboxServer, values: dict[str, int]
) -> None:
    response = requests.post(f"{sandbox.base_url}/_sandbox/faults", json=values, timeout=5)
    assert response.status_code == 400 and "error_status" in response.json()["error"]


def test_drop_fault_closes_the_connection_without_an_answer(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    inst = sandbox.create_greenapi_instance()
    before = sandbox.faults(drop_rate=1, count=2)["fired"].get("drop", 0)
    with pytest.raises(requests.ConnectionError):
        evo(sandbox, "GET", "/instance/fetchInstances")
    with pytest.raises(requests.ConnectionError):
        green(
            sandbox,
            inst,
            "sendMessage",
            "POST",
            json={"chatId": "79001234567@c.us", "message": "x" * 70000},
        )
    assert sandbox.control("GET", "/faults")["fired"]["drop"] == before + 2
    assert evo(sandbox, "GET", "/instance/fetchInstances").status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_rate_limit_fault_gives_429_with_retry_after(sandbox: SandboxServer) -> None:
    sandbox.faults(rate_limit_rate=1, retry_after=7, provider="evolution", path_contains="sendText")
    create_evolution(sandbox, None)
    response = evo(
        sandbox, "POST", "/message/sendText/wa1", json={"number": "5511888888888", "text": "x"}
    )
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json() == {
        "status": 429,
        "error": "Too Many Requests",
        "response": {"message": ["Too Many Requests"]},
    }


def test_greenapi_faults_use_greenapi_shapes(sandbox: SandboxServer) -> None:
    inst = sandbox.create_greenapi_instance()
    sandbox.faults(rate_limit_rate=1, retry_after=3, count=1)
    limited = green(sandbox, inst, "getStateInstance")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    sandbox.faults(error_rate=1, count=1)
    assert green(sandbox, inst, "getStateInstance").status_code == 500
    assert green(sandbox, inst, "getStateInstance").json() == {"stateInstance": "notAuthorized"}


def test_timeout_fault_hangs_longer_than_the_client_waits(sandbox: SandboxServer) -> None:
    sandbox.faults(timeout_rate=1, hang_seconds=2, count=1)
    with pytest.raises(requests.Timeout):
        requests.get(sandbox.base_url + "/", timeout=0.3)
    assert requests.get(sandbox.base_url + "/", timeout=2).status_code == 200


def test_latency_fault_delays_answers(sandbox: SandboxServer) -> None:
    sandbox.faults(latency_ms=300)
    started = time.monotonic()
    evo(sandbox, "GET", "/", key=None)
    assert time.monotonic() - started >= 0.3


def test_connect_error_fault_answers_200_with_error_true(sandbox: SandboxServer) -> None:
    create_evolution(sandbox, None)
    sandbox.faults(connect_error_rate=1, count=1)
    response = evo(sandbox, "GET", "/instance/connect/wa1")
    assert response.status_code == 200 and response.json() == {
        "error": True,
        "message": "[object Object]",
    }


def test_faults_do_not_touch_the_control_api(sandbox: SandboxServer) -> None:
    sandbox.faults(error_rate=1)
    assert sandbox.control("GET", "/faults")["error_rate"] == 1


def test_dropped_webhooks_never_arrive(sandbox: SandboxServer, receiver: WebhookReceiver) -> None:
    sandbox.faults(webhook_drop_rate=1)
    create_evolution(sandbox, receiver)
    log = sandbox.control("GET", "/webhooks")
    assert log["deliveries"] and {d["status"] for d in log["deliveries"]} == {"dropped"}
    time.sleep(0.2)
    assert receiver.received == []


def test_duplicated_webhooks_arrive_twice(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    sandbox.faults(webhook_duplicate_rate=1)
    sandbox.inbound("evolution", "wa1", **{"from": "5511777776666", "text": "Hi"})
    upserts = receiver.wait_for_event("messages.upsert", 2)
    assert upserts[0].body == upserts[1].body
