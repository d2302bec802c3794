"""Portal errors are branded pages; the API keeps its JSON envelope."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [False, True])
def test_a_dead_link_lands_on_the_branded_404(member, settings, debug):
    settings.DEBUG = debug
    for path in ("/no/such/page/", "/numbers/00000000-0000-0000-0000-000000000000/"):
        response = member.get(path)
        assert response.status_code == 404
        html = response.content.decode()
        assert "Page not found" in html and 'id="error-page"' in html
        assert "matches the given query" not in html and "Traceback" not in html


def test_a_signed_links_own_message_is_kept(settings):
    from django.test import Client

    settings.DEBUG = True
    html = Client().get("/connect/garbage/").content.decode()
    assert "This link is invalid or has expired." in html and 'id="error-page"' in html


def test_the_api_still_answers_json_for_unknown_paths(api, settings):
    settings.DEBUG = True
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_500_page_stands_alone():
    from django.template.loader import render_to_string

    html = render_to_string("500.html")
    assert "Something went wrong" in html and "{%" not in html
