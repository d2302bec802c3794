"""GreenAPI Partner API: getInstances with the partner token, deleted instances, errors, faults."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.config import config_from_env
from sandbox.partner import stamp
from sandbox.testing import SandboxServer

PARTNER_TOKEN = "sandbox-partner-token"


def get_instances(sandbox: SandboxServer, token: str = PARTNER_TOKEN) -> requests.Response:
    """Call getInstances with a partner token."""
    return requests.get(f"{sandbox.base_url}/partner/getInstances/{token}", timeout=5)


def rows(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """The getInstances rows, checked to be a 200 JSON list."""
    response = get_instances(sandbox)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def now(sandbox: SandboxServer) -> float:
    """The sandbox clock (the session's manual clock is not rewound by reset)."""
    return float(sandbox.control("GET", "/clock")["now"])


def test_get_instances_lists_every_instance_with_the_documented_fields(
    sandbox: SandboxServer,
) -> None:
    made = sandbox.create_greenapi_instance()
    (row,) = rows(sandbox)
    assert set(row) == {
        "idInstance",
        "name",
        "typeInstance",
        "typeAccount",
        "partnerUserUiid",
        "timeCreated",
        "timeDeleted",
        "apiTokenInstance",
        "deleted",
        "tariff",
        "isFree",
        "isPartner",
        "expirationDate",
        "isExpired",
    }
    assert (row["idInstance"], row["apiTokenInstance"]) == (
        made["idInstance"],
        made["apiTokenInstance"],
    )
    assert row["deleted"] is False and row["timeDeleted"] == "0001-01-01T00:00:00"
    assert row["timeCreated"] == stamp(now(sandbox)) and row["typeInstance"] == "whatsapp"


def test_deleted_instances_stay_listed_as_deleted(sandbox: SandboxServer) -> None:
    kept = sandbox.create_greenapi_instance()
    gone = sandbox.create_greenapi_instance()
    deleted_at = sandbox.advance(90)["now"]
    sandbox.control("DELETE", f"/greenapi/instances/{gone['idInstance']}")
    listed = {row["idInstance"]: row for row in rows(sandbox)}
    assert listed[kept["idInstance"]]["deleted"] is False
    assert listed[gone["idInstance"]]["deleted"] is True
    assert listed[gone["idInstance"]]["timeDeleted"] == stamp(deleted_at)


def test_an_instance_made_again_with_a_deleted_id_is_listed_once_and_live(
    sandbox: SandboxServer,
) -> None:
    made = sandbox.create_greenapi_instance()
    sandbox.control("DELETE", f"/greenapi/instances/{made['idInstance']}")
    sandbox.create_greenapi_instance(idInstance=made["idInstance"], apiTokenInstance="fresh-token")
    assert [(r["idInstance"], r["apiTokenInstance"], r["deleted"]) for r in rows(sandbox)] == [
        (made["idInstance"], "fresh-token", False)
    ]


def test_a_wrong_partner_token_is_refused_in_a_200_body(sandbox: SandboxServer) -> None:
    sandbox.create_greenapi_instance()
    response = get_instances(sandbox, "not-the-partner")
    assert response.status_code == 200 and response.json() == {
        "code": 401,
        "description": "Unauthorized",
    }


def test_the_partner_token_is_a_setting(sandbox: SandboxServer) -> None:
    assert (
        config_from_env({"SANDBOX_GREENAPI_PARTNER_TOKEN": "from-env"}).greenapi_partner_token
        == "from-env"
    )
    sandbox.settings(greenapi_partner_token="rotated")
    assert get_instances(sandbox, "rotated").json() == []
    assert get_instances(sandbox).json() == {"code": 401, "description": "Unauthorized"}


def test_unknown_partner_methods_answer_as_greenapi_not_evolution(sandbox: SandboxServer) -> None:
    response = requests.get(f"{sandbox.base_url}/partner/createInstance/{PARTNER_TOKEN}", timeout=5)
    assert (response.status_code, response.text) == (404, "Not Found")


def test_greenapi_faults_reach_the_partner_api(sandbox: SandboxServer) -> None:
    sandbox.faults(provider="greenapi", error_rate=1, error_status=503, count=1)
    response = get_instances(sandbox)
    assert (response.status_code, response.text) == (503, "Service Unavailable")
    assert rows(sandbox) == []
