"""The API takes each field only in its own JSON type and refuses malformed cursors and limits."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def error_fields(response) -> set[str]:
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    return set(response.json()["error"]["details"])


def test_a_number_where_a_string_is_expected_is_not_coerced(api, evolution_number):
    body = {"number": str(evolution_number.pk), "to": 5511988887777, "type": "text", "text": 123}
    assert error_fields(api.post("/api/v1/messages/", body, format="json")) == {"to", "text"}
    assert not evolution_number.messages.exists()


def test_a_numeric_number_id_and_a_boolean_type_name_their_fields(api):
    body = {"number": 42, "to": "5511988887777", "type": True, "text": "hi"}
    assert error_fields(api.post("/api/v1/messages/", body, format="json")) == {"number", "type"}


def test_a_send_rate_given_as_a_string_is_refused(api, evolution_number):
    response = api.patch(
        f"/api/v1/numbers/{evolution_number.pk}/", {"send_rate_per_minute": "30"}, format="json"
    )
    assert error_fields(response) == {"send_rate_per_minute"}
    evolution_number.refresh_from_db()
    assert evolution_number.send_rate_per_minute == 20


def test_a_number_name_given_as_a_number_is_refused(api):
    response = api.post("/api/v1/numbers/", {"name": 7, "provider": "evolution"}, format="json")
    assert error_fields(response) == {"name"}


def test_well_typed_bodies_still_pass(api, evolution_number):
    body = {"number": str(evolution_number.pk), "to": "+55 11 98888-7777", "type": "text"}
    response = api.post("/api/v1/messages/", {**body, "text": "hi"}, format="json")
    assert response.status_code == 202, response.content


@pytest.mark.parametrize(
    "query", ["cursor=not-a-cursor", "cursor=cD0yMDI0LWJhZA%3D%3D", "cursor=%%%"]
)
def test_a_malformed_cursor_is_a_400_naming_it(api, query):
    assert error_fields(api.get(f"/api/v1/messages/?{query}")) == {"cursor"}


@pytest.mark.parametrize("limit", ["abc", "0", "-1", "201", "1.5"])
def test_a_bad_limit_is_a_400_naming_it(api, limit):
    assert error_fields(api.get(f"/api/v1/messages/?limit={limit}")) == {"limit"}


def test_a_good_limit_pages_and_its_next_cursor_works(api, evolution_number):
    from messaging.outbox import queue_message

    for n in range(3):
        queue_message(evolution_number, to=f"551198888000{n}", type="text", text=str(n))
    page = api.get("/api/v1/messages/?limit=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/messages/?status=bogus",
        "/api/v1/messages/?direction=sideways",
        "/api/v1/messages/?number=abc",
        "/api/v1/numbers/?status=asleep",
        "/api/v1/numbers/?provider=twilio",
        "/api/v1/conversations/?number=abc",
    ],
)
def test_invalid_values_of_known_filters_are_400s(api, url):
    name = url.split("?")[1].split("=")[0]
    assert error_fields(api.get(url)) == {name}
