"""Authenticated but hostile deliveries: answered 400 or 403, never 500, and never applied."""

from __future__ import annotations

import json
import time

import pytest

from webhooks.auth import SIGNATURE_HEADER, sign
from webhooks.fixtures import provider_headers
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db
UPSERT = "messages_upsert__text"


@pytest.mark.parametrize("provider", ["evolution", "greenapi"])
@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_json_nested_beyond_reason_is_a_400_malformed_body(
    deliver, evolution_number, greenapi_number, provider, depth
):
    number = evolution_number if provider == "evolution" else greenapi_number
    body = b'{"event": ' + b"[" * depth + b"]" * depth + b"}"
    response = deliver(number, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"
    assert WebhookEvent.objects.get().status == "failed"


def signed_headers(number, body: bytes, stamp: str, digest: str | None = None) -> dict[str, str]:
    """The provider's headers with a signature whose timestamp (and maybe digest) is given."""
    digest = digest or sign(number.webhook_secret, body, int(time.time()))
    return {**provider_headers(number, body), SIGNATURE_HEADER: f"t={stamp},v1={digest}"}


@pytest.mark.parametrize(
    "stamp",
    ["²", "1²", "١٧٠٠٠٠٠٠٠٠", "１７００００００００", "9" * 5000, "-1", "+1700000000", " 1"],
    ids=[
        "superscript",
        "digit-then-superscript",
        "arabic",
        "fullwidth",
        "5000-digits",
        "minus",
        "plus",
        "space",
    ],
)
def test_a_signature_timestamp_that_is_not_ascii_digits_is_a_403(
    deliver, evolution_number, fixture_for, stamp
):
    body = json.dumps(fixture_for(evolution_number, UPSERT)).encode()
    response = deliver(
        evolution_number, body, headers=signed_headers(evolution_number, body, stamp)
    )
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("digest", ["é" * 64, "g" * 64, "ab" * 40])
def test_a_signature_digest_that_is_not_hex_is_a_403(
    deliver, evolution_number, fixture_for, digest
):
    body = json.dumps(fixture_for(evolution_number, UPSERT)).encode()
    headers = signed_headers(evolution_number, body, str(int(time.time())), digest)
    assert deliver(evolution_number, body, headers=headers).status_code == 403
    assert not WebhookEvent.objects.exists()


def test_a_right_ascii_signature_is_still_accepted(deliver, evolution_number, fixture_for):
    body = json.dumps(fixture_for(evolution_number, UPSERT)).encode()
    stamp = int(time.time())
    digest = sign(evolution_number.webhook_secret, body, stamp)
    headers = signed_headers(evolution_number, body, str(stamp), digest.upper())
    assert deliver(evolution_number, body, headers=headers).status_code == 200
