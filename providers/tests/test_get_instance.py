"""get_instance of both gateways against recorded responses: the phone of a linked number."""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from providers.errors import ProviderAuthenticationError
from providers.events import ConnectionStatus
from providers.evolution import EvolutionGateway
from providers.greenapi import GreenApiGateway
from providers.tests import test_evolution as evo
from providers.tests import test_greenapi as green

FETCH = f"{evo.BASE}/instance/fetchInstances"


def test_evolution_reads_phone_profile_and_state_with_the_instance_token(
    evolution: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        FETCH,
        json=evo.fixture("instance_fetchInstances__by_name"),
        match=[
            matchers.query_param_matcher({"instanceName": evo.NAME}),
            matchers.header_matcher({"apikey": evo.TOKEN}),
        ],
    )
    found = evolution.get_instance(evo.REF)
    assert found is not None and found.ref == evo.REF
    # `number` is null for a QR-linked instance; the phone comes from ownerJid.
    assert found.phone == "5511999999999" and found.profile_name == "Acme"
    assert found.state is not None and found.state.status is ConnectionStatus.CONNECTED
    assert found.raw["token"] == "****"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, evo.fixture("instance_fetchInstances__not_found")),
        (200, evo.fixture("instance_fetchInstances__ok")[1:]),
        (200, []),
    ],
    ids=["not_found", "other_rows_only", "empty"],
)
def test_evolution_unknown_instance_is_none(
    evolution: EvolutionGateway, rsps: responses.RequestsMock, status: int, body: object
) -> None:
    rsps.get(FETCH, status=status, json=body)
    assert evolution.get_instance(evo.REF) is None


def test_a_rejected_token_of_an_instance_the_global_list_still_has_raises(
    evolution: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    own = matchers.header_matcher({"apikey": evo.TOKEN})
    rsps.get(FETCH, status=401, json=evo.fixture("error__unauthorized"), match=[own])
    rsps.get(FETCH, json=evo.fixture("instance_fetchInstances__by_name"))
    with pytest.raises(ProviderAuthenticationError):
        evolution.get_instance(evo.REF)


@pytest.mark.parametrize("answer", [(200, []), (404, {"status": 404})], ids=["absent", "404"])
def test_the_401_of_a_deleted_instances_own_token_means_it_is_gone(
    evolution: EvolutionGateway, rsps: responses.RequestsMock, answer: tuple[int, object]
) -> None:
    """Its token matches no instance any more, so the guard says 401, not 404 (Corrections)."""
    own = matchers.header_matcher({"apikey": evo.TOKEN})
    rsps.get(FETCH, status=401, json=evo.fixture("error__unauthorized"), match=[own])
    rsps.get(FETCH, status=answer[0], json=answer[1])
    assert evolution.get_instance(evo.REF) is None


def test_greenapi_reads_the_phone_from_the_settings_wid(
    greenapi: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(green.url("getSettings"), json=green.fixture("getSettings__ok"))
    found = greenapi.get_instance(green.REF)
    assert found is not None and found.ref == green.REF and found.phone == "11001234567"
    # getSettings carries neither a profile name nor the state (reference 2.2).
    assert found.profile_name == "" and found.state is None
    assert found.raw["webhookUrlToken"] == "****"


def test_greenapi_before_authorization_has_no_phone(
    greenapi: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(green.url("getSettings"), json={**green.fixture("getSettings__no_webhook"), "wid": ""})
    found = greenapi.get_instance(green.REF)
    assert found is not None and found.phone == ""


def test_greenapi_wrong_credentials_raise(
    greenapi: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(green.url("getSettings"), status=401, body="Unauthorized")
    with pytest.raises(ProviderAuthenticationError):
        greenapi.get_instance(green.REF)
