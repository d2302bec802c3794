"""Real log output (the configured handler and formatter) never shows phone numbers or secrets."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client

from whatsapp_saas.logging import MaskSecretsFilter, mask


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """The real console handler (settings.LOGGING: JSON formatter, masking filter) on a buffer."""
    [handler] = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler)
        and any(isinstance(f, MaskSecretsFilter) for f in h.filters)
    ]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def json_lines(captured: str) -> list[dict]:
    """The JSON records among the captured lines."""
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def test_a_logged_phone_number_shows_only_its_last_four_digits(log_output):
    logging.getLogger("whatsapp_saas.test").warning(
        "sending to %s and +55 21 98888-7777", "5511999998888"
    )
    [record] = json_lines(log_output.getvalue())
    assert record["message"] == "sending to ****8888 and ****7777"
    assert record["level"] == "WARNING"
    assert "request_id" in record


def test_jids_api_keys_tokens_and_url_secrets_are_masked(log_output):
    logging.getLogger("whatsapp_saas.test").info(
        "jid 5511999998888@s.whatsapp.net key wa_0a1b2c3d_S3cr3tS3cr3t "
        "GET https://api.green-api.com/waInstance1101/sendMessage/"
        "d75b3a66374942c5b3c019c698abc2067e151558acbd451f9 "
        "apikey=evo-global-key&x=1 Authorization: Bearer abc.def.ghi"
    )
    out = log_output.getvalue()
    [record] = json_lines(out)
    for secret in (
        "5511999998888",
        "S3cr3tS3cr3t",
        "d75b3a66374942c5",
        "evo-global-key",
        "abc.def.ghi",
    ):
        assert secret not in out
    message = record["message"]
    assert "****8888@s.whatsapp.net" in message
    assert "wa_0a1b2c3d_****" in message
    assert "/waInstance1101/sendMessage/****" in message


def test_extra_fields_and_tracebacks_are_masked_too(log_output):
    try:
        raise ValueError("number 5511912345678 rejected, token=tok-123456")
    except ValueError:
        logging.getLogger("whatsapp_saas.test").exception("failed", extra={"to": "5511912345678"})
    out = log_output.getvalue()
    [record] = json_lines(out)
    assert "5511912345678" not in out and "tok-123456" not in out
    assert record["to"] == "****5678"
    assert "ValueError: number ****5678 rejected" in record["exc_info"]


@pytest.mark.django_db
def test_a_request_to_a_capability_url_is_logged_without_its_token(log_output):
    response = Client().get("/webhooks/evolution/tok-9f8e7d6c5b4a/", HTTP_X_REQUEST_ID="req-42")
    assert response["X-Request-ID"] == "req-42"
    out = log_output.getvalue()
    assert "tok-9f8e7d6c5b4a" not in out
    records = [r for r in json_lines(out) if "/webhooks/evolution/" in r["message"]]
    assert len(records) == 1, "one access line per request"
    assert records[0]["message"].startswith("GET /webhooks/evolution/**** 405 ")
    assert records[0]["http_path"] == "/webhooks/evolution/****"
    assert records[0]["request_id"] == "req-42"


MALFORMED = [
    "/webhooks//{t}/",
    "/webhooks/{t}/",
    "/webhooks/{t}",
    "/webhooks/{p}//{t}/",
    "/webhooks/{p}/{t}/extra/",
    "/webhooks/{p}/{t}/{t}/",
    "/webhooks/{P}/{t}/",
    "/webhooks/unknown/{t}/",
    "/webhooks/{p}/{t}/?token={t}",
    "/webhooks/{p}/{t};x/",
    "/webhooks/{p}/%2F{t}/",
    "/webhooks/./{p}/{t}/",
    "/webhooks/{p}/{t}/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["evolution", "greenapi"])
def test_no_token_reaches_the_logs_from_any_malformed_webhook_path(log_output, provider):
    token = "Tk9x-secret_TOKEN-4f3a2b1c0d9e8f7a6b5c"
    client = Client()
    statuses = set()
    for template in MALFORMED:
        path = template.format(t=token, p=provider, P=provider.upper())
        for method in ("POST", "GET", "PUT"):
            response = client.generic(method, path, b"{}", content_type="application/json")
            statuses.add(response.status_code)
    out = log_output.getvalue()
    assert {404, 405} <= statuses and "/webhooks/" in out  # one access line per request
    assert token not in out and token[:12] not in out


@pytest.mark.parametrize(
    "line",
    [
        "Not Found: //webhooks/evolution/{t}/",
        '"POST /webhooks/greenapi/{t}/ HTTP/1.1" 200 11',
        "Not Found: /webhooks/evolution/{t} trailing words",
    ],
)
def test_paths_the_test_client_cannot_send_are_masked_too(line):
    token = "Tk9x-secret_TOKEN-4f3a2b1c0d9e8f7a6b5c"
    assert token not in mask(line.format(t=token))


def test_gunicorn_access_lines_are_masked():
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config  # type: ignore[import-untyped]

    from whatsapp_saas.gunicorn_logging import MaskedLogger

    token = "Tk9x-secret_TOKEN-4f3a2b1c0d9e8f7a6b5c"
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/webhooks//{token}/",
        "PATH_INFO": f"/webhooks//{token}/",
        "QUERY_STRING": f"token={token}",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    response = SimpleNamespace(status="404 Not Found", headers=[], sent=0)
    request = SimpleNamespace(headers=[("AUTHORIZATION", f"Bearer {token}")])
    atoms = MaskedLogger(Config()).atoms(response, request, environ, timedelta(seconds=0))
    assert token not in repr(atoms)
    assert atoms["r"] == "POST /webhooks/**** HTTP/1.1"


def test_every_handler_that_writes_logs_masks_them():
    # The handlers the settings configure (tests before this one may add capture handlers).
    logging.config.dictConfig(settings.LOGGING)
    names = ["", *settings.LOGGING["loggers"]]
    handlers = [
        h
        for name in names
        for h in logging.getLogger(name).handlers
        if not isinstance(h, logging.NullHandler)
    ]
    assert handlers
    assert all(any(isinstance(f, MaskSecretsFilter) for f in h.filters) for h in handlers)


@pytest.mark.parametrize(
    "text",
    [
        "order 2026-11-21T23:03:16Z",
        "uuid 3f2b8c1e-1234-4abc-9def-0123456789ab",
        "took 1234 ms",
        "version 2.3.7",
        "host 127.0.0.1:8081",
    ],
)
def test_ordinary_values_are_left_alone(text):
    assert mask(text) == text
