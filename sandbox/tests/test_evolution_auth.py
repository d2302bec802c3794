"""Evolution auth and guard order: 404 before 401, 403 for a name in use, token scoping."""

from __future__ import annotations

from sandbox.testing import SandboxServer
from sandbox.tests.helpers import create_evolution, evo

UNAUTHORIZED = {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}


def test_wrong_or_missing_apikey_is_401_with_a_string_message(sandbox: SandboxServer) -> None:
    create_evolution(sandbox, None)
    for key in ("wrong", None):
        response = evo(sandbox, "GET", "/instance/connectionState/wa1", key=key)
        assert response.status_code == 401 and response.json() == UNAUTHORIZED


def test_unknown_instance_is_404_whatever_the_key(sandbox: SandboxServer) -> None:
    response = evo(sandbox, "GET", "/instance/connectionState/ghost", key="wrong")
    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "error": "Not Found",
        "response": {"message": ['The "ghost" instance does not exist']},
    }


def test_instance_token_works_on_its_own_routes_only(sandbox: SandboxServer) -> None:
    token = create_evolution(sandbox, None, name="one")["hash"]
    create_evolution(sandbox, None, name="two")
    assert evo(sandbox, "GET", "/instance/connectionState/one", key=token).status_code == 200
    assert evo(sandbox, "GET", "/instance/connectionState/two", key=token).status_code == 401


def test_create_needs_the_global_key(sandbox: SandboxServer) -> None:
    token = create_evolution(sandbox, None, name="one")["hash"]
    body = {"instanceName": "two", "integration": "WHATSAPP-BAILEYS"}
    response = evo(sandbox, "POST", "/instance/create", key=token, json=body)
    assert response.status_code == 401 and response.json() == UNAUTHORIZED


def test_create_with_a_name_in_use_is_403(sandbox: SandboxServer) -> None:
    create_evolution(sandbox, None)
    body = {"instanceName": "wa1", "integration": "WHATSAPP-BAILEYS"}
    response = evo(sandbox, "POST", "/instance/create", json=body)
    assert response.status_code == 403
    assert response.json() == {
        "status": 403,
        "error": "Forbidden",
        "response": {"message": ['This name "wa1" is already in use.']},
    }


def test_create_with_a_bad_integration_is_400(sandbox: SandboxServer) -> None:
    response = evo(
        sandbox, "POST", "/instance/create", json={"instanceName": "x", "integration": "NOPE"}
    )
    assert response.status_code == 400 and response.json()["response"]["message"] == [
        "Invalid integration"
    ]


def test_create_with_a_webhook_without_events_fails_as_evolution_does(
    sandbox: SandboxServer,
) -> None:
    body = {
        "instanceName": "x",
        "integration": "WHATSAPP-BAILEYS",
        "webhook": {"url": "http://127.0.0.1:9/h"},
    }
    response = evo(sandbox, "POST", "/instance/create", json=body)
    assert response.status_code == 400
    assert evo(sandbox, "GET", "/instance/connectionState/x").status_code == 404


def test_fetch_instances_with_an_instance_token_returns_only_its_row(
    sandbox: SandboxServer,
) -> None:
    token = create_evolution(sandbox, None, name="one")["hash"]
    create_evolution(sandbox, None, name="two")
    rows = evo(sandbox, "GET", "/instance/fetchInstances", key=token).json()
    assert [row["name"] for row in rows] == ["one"]
    assert len(evo(sandbox, "GET", "/instance/fetchInstances").json()) == 2
    assert evo(sandbox, "GET", "/instance/fetchInstances", key="wrong").status_code == 401


def test_fetch_instances_by_unknown_name_is_404(sandbox: SandboxServer) -> None:
    response = evo(sandbox, "GET", "/instance/fetchInstances", params={"instanceName": "ghost"})
    assert response.status_code == 404
    assert response.json()["response"]["message"] == ['Instance "ghost" not found']


def test_unknown_route_is_404_cannot_method_path(sandbox: SandboxServer) -> None:
    response = evo(sandbox, "GET", "/foo")
    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "error": "Not Found",
        "response": {"message": ["Cannot GET /foo"]},
    }


def test_root_reports_version(sandbox: SandboxServer) -> None:
    body = evo(sandbox, "GET", "/", key=None).json()
    assert body["status"] == 200 and body["version"] == "2.3.6"
