"""find_sent of both gateways: what the provider shows as sent, from recorded history answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses

from providers.base import ProviderGateway, body_fingerprint
from providers.errors import ProviderProtocolError
from providers.evolution import HISTORY_MAX_PAGES, EvolutionGateway
from providers.greenapi import GreenApiGateway
from providers.tests import test_evolution as evo
from providers.tests import test_greenapi as green
from providers.tests.support import load_fixture
from providers.types import InstanceRef, SentRecord

CUSTOMER = "5511888888888"
FIND_MESSAGES = f"{evo.BASE}/chat/findMessages/{evo.NAME}"


def at(epoch: int) -> datetime:
    """A UTC time from epoch seconds."""
    return datetime.fromtimestamp(epoch, tz=UTC)


def sent_json(call: Any) -> Any:
    """The JSON body of a recorded call."""
    return json.loads(call.request.body)


def history(records: list[Any], pages: int = 1, page: int = 1) -> dict[str, Any]:
    """A findMessages answer in Evolution 2.3's paginated shape."""
    return {
        "messages": {"total": len(records), "pages": pages, "currentPage": page, "records": records}
    }


# ---- Evolution: POST /chat/findMessages -------------------------------------------------------


def test_evolution_asks_for_our_messages_to_the_chat_in_the_window_with_the_instance_token(
    evolution: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(FIND_MESSAGES, json=load_fixture("evolution", "chat_findMessages__empty"))
    since = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert evolution.find_sent(evo.REF, "+55 11 88888-8888", since) == []
    call = rsps.calls[0]
    assert call.request.headers["apikey"] == evo.TOKEN
    body = sent_json(call)
    jid = f"{CUSTOMER}@s.whatsapp.net"
    assert body["where"]["key"] == {"remoteJid": jid, "remoteJidAlt": jid, "fromMe": True}
    window = body["where"]["messageTimestamp"]
    assert window["gte"] == "2026-03-01T12:00:00.250Z"
    assert datetime.fromisoformat(window["lte"]) > datetime.now(UTC)
    assert (body["page"], body["offset"]) == (1, 100)


def test_evolution_reads_every_sent_kind_with_its_fingerprint_and_time(
    evolution: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(FIND_MESSAGES, json=load_fixture("evolution", "chat_findMessages__ok"))
    found = evolution.find_sent(evo.REF, CUSTOMER, at(1757464200))
    assert found == [
        SentRecord(
            "3EB0C0FFEE00000000000004",
            CUSTOMER,
            body_fingerprint("document", "March invoice"),
            at(1757464400),
        ),
        SentRecord(
            "3EB0C0FFEE00000000000003",
            CUSTOMER,
            body_fingerprint("image", "Invoice"),
            at(1757464300),
        ),
        # A LID-addressed chat keeps the phone in remoteJidAlt (reference 1.6).
        SentRecord(
            "3EB0C0FFEE00000000000002",
            CUSTOMER,
            body_fingerprint("text", "See https://example.com"),
            at(1757464280),
        ),
        SentRecord(
            "3EB08EE80DB4E276AFE85B", CUSTOMER, body_fingerprint("text", "Hello"), at(1757464274)
        ),
    ]


def test_evolution_history_and_the_send_answer_give_one_fingerprint(
    evolution: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    sent = load_fixture("evolution", "message_sendText__ok")
    rsps.post(FIND_MESSAGES, json=history([sent]))
    [record] = evolution.find_sent(evo.REF, CUSTOMER, at(sent["messageTimestamp"]))
    assert record.provider_message_id == sent["key"]["id"]
    assert record.fingerprint == body_fingerprint("text", sent["message"]["conversation"])


def test_evolution_leaves_out_other_chats_inbound_messages_and_older_sends(
    evolution: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    records = load_fixture("evolution", "chat_findMessages__ok")["messages"]["records"]
    other_chat = {
        **records[0],
        "key": {**records[0]["key"], "remoteJid": "5511777777777@s.whatsapp.net"},
    }
    inbound = {**records[1], "key": {**records[1]["key"], "fromMe": False}}
    rsps.post(FIND_MESSAGES, json=history([other_chat, inbound, *records[2:]]))
    # The send at 1757464274 is before `since`; the one at ...280 is kept even though `since`
    # has a fraction of a second more (Evolution stores whole seconds).
    found = evolution.find_sent(evo.REF, CUSTOMER, at(1757464280) + timedelta(milliseconds=600))
    assert [r.provider_message_id for r in found] == ["3EB0C0FFEE00000000000002"]


def test_evolution_reads_every_page_of_a_long_history(
    evolution: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    records = load_fixture("evolution", "chat_findMessages__ok")["messages"]["records"]
    rsps.post(FIND_MESSAGES, json=history(records[:2], pages=2, page=1))
    rsps.post(FIND_MESSAGES, json=history(records[2:], pages=2, page=2))
    found = evolution.find_sent(evo.REF, CUSTOMER, at(1757464000))
    assert len(found) == 4
    assert [sent_json(call)["page"] for call in rsps.calls] == [1, 2]


def test_evolution_stops_paging_once_a_page_reaches_before_since(
    evolution: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    # Builds without the timestamp filter return the whole chat, newest first.
    records = load_fixture("evolution", "chat_findMessages__ok")["messages"]["records"]
    rsps.post(FIND_MESSAGES, json=history(records, pages=9, page=1))
    found = evolution.find_sent(evo.REF, CUSTOMER, at(1757464290))
    assert len(found) == 2 and len(rsps.calls) == 1


def test_evolution_refuses_to_guess_when_the_history_never_ends(
    evolution: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    records = load_fixture("evolution", "chat_findMessages__ok")["messages"]["records"]
    rsps.post(FIND_MESSAGES, json=history(records[:1], pages=HISTORY_MAX_PAGES + 5))
    with pytest.raises(ProviderProtocolError):
        evolution.find_sent(evo.REF, CUSTOMER, at(1757464000))
    assert len(rsps.calls) == HISTORY_MAX_PAGES


@pytest.mark.parametrize(
    "body", [[], {"messages": []}, {"messages": {"records": None}}, {"status": "ok"}, None]
)
def test_evolution_unreadable_history_raises_instead_of_saying_nothing_was_sent(
    evolution: EvolutionGateway, rsps: responses.RequestsMock, body: Any
) -> None:
    rsps.post(FIND_MESSAGES, json=body)
    with pytest.raises(ProviderProtocolError) as caught:
        evolution.find_sent(evo.REF, CUSTOMER, at(1757464000))
    assert not caught.value.retryable


def test_evolution_webhooks_subscribe_the_send_echo_and_one_without_it_is_drift(
    evolution: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    """Evolution posts send.message only to webhooks subscribed to SEND_MESSAGE (reference)."""
    rsps.post(f"{evo.BASE}/instance/create", json=load_fixture("evolution", "instance_create__ok"))
    evolution.create_instance(InstanceRef(evo.NAME), evo.WEBHOOK)
    assert "SEND_MESSAGE" in sent_json(rsps.calls[0])["webhook"]["events"]
    row = load_fixture("evolution", "webhook_find__in_sync")
    events = [event for event in row["events"] if event != "SEND_MESSAGE"]
    rsps.get(f"{evo.BASE}/webhook/find/{evo.NAME}", json={**row, "events": events})
    found = evolution.get_webhook(evo.REF)
    assert found is not None and not found.complete and not found.matches(evo.WEBHOOK)


# ---- GreenAPI: GET lastOutgoingMessages -------------------------------------------------------


def test_greenapi_asks_for_whole_minutes_back_to_since(
    greenapi: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        green.url("lastOutgoingMessages"),
        json=[],
        match=[responses.matchers.query_param_matcher({"minutes": "3"})],
    )
    since = datetime.now(UTC) - timedelta(seconds=90)
    assert greenapi.find_sent(green.REF, CUSTOMER, since) == []
    assert str(rsps.calls[0].request.url).startswith(green.POOL)


def test_greenapi_reads_api_sends_to_the_person_with_their_fingerprints(
    greenapi: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        green.url("lastOutgoingMessages"), json=load_fixture("greenapi", "lastOutgoingMessages__ok")
    )
    found = greenapi.find_sent(green.REF, f"{CUSTOMER}@c.us", at(1757464300))
    # Left out: typed on the phone (sendByApi false), a group, another person, an older send.
    assert found == [
        SentRecord(
            "BAE5F4886E5E7D3D", CUSTOMER, body_fingerprint("image", "Invoice"), at(1757464410)
        ),
        SentRecord(
            "BAE5F4886E5E7D3C",
            CUSTOMER,
            body_fingerprint("text", "See https://example.com"),
            at(1757464390),
        ),
        SentRecord("BAE5F4886E5E7D3B", CUSTOMER, body_fingerprint("text", "Hello"), at(1757464380)),
    ]


@pytest.mark.parametrize("body", [{"idMessage": "x"}, "busy", None])
def test_greenapi_unreadable_history_raises_instead_of_saying_nothing_was_sent(
    greenapi: GreenApiGateway, rsps: responses.RequestsMock, body: Any
) -> None:
    rsps.get(green.url("lastOutgoingMessages"), json=body)
    with pytest.raises(ProviderProtocolError):
        greenapi.find_sent(green.REF, CUSTOMER, at(1757464000))


# ---- the shared contract, with find_sent as the probe -----------------------------------------


def probe_find_sent(gateway: ProviderGateway, ref: InstanceRef) -> Any:
    """find_sent over the last minute."""
    return gateway.find_sent(ref, CUSTOMER, datetime.now(UTC) - timedelta(minutes=1))


class TestEvolutionFindSentContract(evo.TestEvolutionContract):
    def probe(self, gateway: ProviderGateway, ref: InstanceRef) -> Any:
        return probe_find_sent(gateway, ref)

    def probe_ok_body(self) -> Any:
        return load_fixture("evolution", "chat_findMessages__empty")

    def probe_route(self) -> tuple[str, str]:
        return "POST", FIND_MESSAGES


class TestGreenApiFindSentContract(green.TestGreenApiContract):
    def probe(self, gateway: ProviderGateway, ref: InstanceRef) -> Any:
        return probe_find_sent(gateway, ref)

    def probe_ok_body(self) -> Any:
        return load_fixture("greenapi", "lastOutgoingMessages__ok")

    def probe_route(self) -> tuple[str, str]:
        return "GET", green.url("lastOutgoingMessages")

    def assert_authenticated(self, request: Any, ref: InstanceRef) -> None:
        assert request.path == f"/waInstance{ref.external_id}/lastOutgoingMessages/{ref.token}"
        assert request.url.startswith(ref.api_url)
