"""Quiet logs: one line per request, none for idle ticks, emails as one INFO line, a favicon."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.test import Client, override_settings

from instances import tasks


@pytest.mark.django_db
def test_a_missing_page_is_one_access_line_and_no_warning(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert client.get("/no-such-page/?phone=5511999999999").status_code == 404
    lines = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [(r.name, r.getMessage().split(" ")[:3]) for r in lines] == [
        ("whatsapp_saas.access", ["GET", "/no-such-page/", "404"])
    ]


@pytest.mark.django_db
def test_the_favicon_is_served_and_logged_only_at_debug(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert response.getvalue()[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


@pytest.mark.django_db
def test_an_idle_scan_poll_logs_nothing_at_info(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        assert tasks.poll_pending_numbers() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


@override_settings(EMAIL_BACKEND="whatsapp_saas.mail.LogEmailBackend")
def test_the_local_email_backend_logs_each_email_as_one_info_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="whatsapp_saas.mail"):
        sent = mail.send_mail("Number logged out", "Scan again.", "a@x.test", ["owner@acme.test"])
    assert sent == 1
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage().startswith(
        "email to owner@acme.test: Number logged out\nScan again."
    )
