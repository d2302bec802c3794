"""Property-based webhook fuzzing over both providers (issue 14): whatever arrives, never a 5xx;
nothing unauthenticated is stored; an event that is not applied changes nothing.

Each example runs in a savepoint that is rolled back, so examples never see each other's rows.
FUZZ_SCALE scales the examples (CI runs the defaults: 800 processed deliveries and 1,200
authentication cases); runs are derandomized, so a failure repeats exactly.
"""

from __future__ import annotations

import copy
import json
import os
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from instances.models import ConnectionEvent, Number
from messaging.models import Contact, Message, PendingReceipt
from webhooks import processing
from webhooks.auth import SIGNATURE_HEADER, sign
from webhooks.fixtures import addressed_to, fixture_names, load_fixture, provider_headers
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db
PROVIDERS = ("evolution", "greenapi")
FIXTURES = {p: fixture_names(p) for p in PROVIDERS}
# Parsed once; every draw takes a deep copy.
RECORDINGS = {p: {name: load_fixture(p, name) for name in FIXTURES[p]} for p in PROVIDERS}
WINDOW = django_settings.WEBHOOK_SIGNATURE_WINDOW_SECONDS
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    # No "explain" phase: it reruns a failure hundreds of times to say which lines it covers.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# FUZZ_SCALE multiplies every test's examples (0.1 for a quick look, 10 for a long hunt).
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    """Hypothesis settings for `examples` examples (times FUZZ_SCALE), reproducible run to run."""
    return settings(FUZZ, max_examples=max(int(examples * SCALE), 1))


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["open", "close", "READ", "authorized", "", "5511988887777@s.whatsapp.net"]),
)
# Text just past, or far past, the columns values are stored in (ids 128, JIDs 120, names 200).
oversized = st.builds(
    lambda n, c, tail: c * n + tail,
    st.sampled_from([121, 129, 201, 256, 5000]),
    st.sampled_from("5a@é"),
    st.sampled_from(["", "@s.whatsapp.net", "@g.us", "@lid"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


class Rollback(Exception):
    """Leaves the example's savepoint."""


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a savepoint that is always rolled back."""
    try:
        with transaction.atomic():
            yield
            raise Rollback
    except Rollback:
        pass


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into nested objects and lists."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def put(payload: Any, path: tuple[Any, ...], value: Any) -> None:
    """Replace (or, for the DELETE marker, remove) the value at a path."""
    *parents, last = path
    node = payload
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value


DELETE = object()


@st.composite
def mutated_payloads(draw: st.DrawFn, provider: str) -> Any:
    """A recorded payload with a few fields replaced by random JSON (or removed)."""
    payload = copy.deepcopy(RECORDINGS[provider][draw(st.sampled_from(FIXTURES[provider]))])
    for _ in range(draw(st.integers(0, 3))):
        targets = paths(payload)
        if not targets:
            break
        path = draw(st.sampled_from(targets))
        put(payload, path, draw(st.one_of(json_values, oversized, st.just(DELETE))))
    return payload


@st.composite
def bodies(draw: st.DrawFn, provider: str) -> tuple[bytes, bool]:
    """(body, re-address it?): mostly mutated recordings, some arbitrary JSON or bytes."""
    kind = draw(st.sampled_from(["mutated"] * 6 + ["json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200)), False
    payload = draw(mutated_payloads(provider)) if kind == "mutated" else draw(json_values)
    # Mostly re-addressed to the number, so the instance check lets it through to processing.
    return json.dumps(payload).encode(), kind == "mutated" and draw(st.integers(0, 9)) > 0


def snapshot(number: Number) -> tuple[Any, ...]:
    """Everything an event could change for a number, read in one query."""
    tables = {
        m.__name__: m._meta.db_table
        for m in (Number, ConnectionEvent, Message, Contact, PendingReceipt)
    }
    sql = (
        "SELECT status, status_reason, phone_number, profile_name, qr_code, pairing_code,"
        f" (SELECT count(*) FROM {tables['ConnectionEvent']} WHERE number_id = n.id),"
        f" (SELECT count(*) FROM {tables['Message']} WHERE number_id = n.id),"
        f" (SELECT count(*) FROM {tables['Contact']}),"
        f" (SELECT count(*) FROM {tables['PendingReceipt']})"
        f" FROM {tables['Number']} n WHERE n.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [number.pk])
        return tuple(cursor.fetchone())


@pytest.fixture
def numbers(evolution_number: Number, greenapi_number: Number) -> dict[str, Number]:
    return {"evolution": evolution_number, "greenapi": greenapi_number}


def readdress(body: bytes, number: Number) -> bytes:
    """The body with its instance identity set to the number's, when it is a JSON object."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if not isinstance(payload, dict):
        return body
    if number.provider == "greenapi" and not isinstance(payload.get("instanceData"), dict):
        payload["instanceData"] = {}
    return json.dumps(addressed_to(number, payload)).encode()


def process_and_check(event: WebhookEvent, number: Number, before: tuple[Any, ...]) -> str:
    """Process a stored event as the worker does; nothing but an applied event changes state."""
    if event.status == WebhookEvent.Status.FAILED:
        # Stored as malformed at ingest (not a JSON object): never processed.
        assert event.error
        return "malformed"
    status = processing.process(event.pk)
    assert status in {"processed", "ignored", "invalid"}, (status, event.pk)
    if status != "processed":
        assert snapshot(number) == before
    return status


@fuzz(800)
@given(data=st.data())
def test_authentic_deliveries_of_any_shape_never_fail_and_never_apply_what_is_invalid(
    client: Client, numbers: dict[str, Number], data: st.DataObject
) -> None:
    provider = data.draw(st.sampled_from(PROVIDERS))
    number = numbers[provider]
    body, address = data.draw(bodies(provider))
    body = readdress(body, number) if address else body
    signed = data.draw(st.booleans())
    with rolled_back():
        number.refresh_from_db()
        before = snapshot(number)
        headers = provider_headers(number, body, sign=signed)
        response = client.post(
            f"/webhooks/{provider}/{number.webhook_token}/",
            body,
            "application/json",
            headers=headers,
        )
        assert response.status_code in (200, 400, 403), response.status_code
        event = WebhookEvent.objects.filter(number=number).first()
        if event is None:
            assert snapshot(number) == before
        else:
            process_and_check(event, number, before)


AUTH_CASES = [
    "right",
    "wrong_secret",
    "no_secret",
    "wrong_token",
    "other_providers_token",
    "tampered_body",
    "signature_wrong_secret",
    "signature_stale",
    "signature_future",
    "signature_in_window",
    "signature_garbage",
]


def forged(
    case: str, number: Number, other: Number, body: bytes, draw: Any
) -> tuple[str, bytes, dict[str, str]]:
    """(path, body, headers) for one authentication case."""
    path, headers = (
        f"/webhooks/{number.provider}/{number.webhook_token}/",
        provider_headers(number, body),
    )
    now = int(time.time())
    if case == "wrong_secret":
        headers = provider_headers(number, body, secret=draw(st.text(min_size=1, max_size=40)))
    elif case == "no_secret":
        headers = {}
    elif case == "wrong_token":
        guess = draw(st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=40))
        path = f"/webhooks/{number.provider}/{guess}x/"
    elif case == "other_providers_token":
        path = f"/webhooks/{number.provider}/{other.webhook_token}/"
    elif case.startswith("signature") or case == "tampered_body":
        offset = {
            "signature_stale": -draw(st.integers(WINDOW + 2, 10**6)),
            "signature_future": draw(st.integers(WINDOW + 2, 10**6)),
            "signature_in_window": draw(st.integers(-(WINDOW - 5), WINDOW - 5)),
        }.get(case, 0)
        secret = "another-secret" if case == "signature_wrong_secret" else number.webhook_secret
        digest = sign(secret, body, now + offset)
        value = f"t={now + offset},v1={digest}"
        if case == "signature_garbage":
            # Non-empty: an empty header is no signature (senders that do not sign send none).
            shaped = st.builds(
                "t={},v1={}".format,
                st.text(string.digits + "²٣１-+ ", min_size=1, max_size=14),
                st.text(string.hexdigits + "é ", max_size=70),
            )
            value = draw(
                st.text(string.printable.strip() + "²٣é", min_size=1, max_size=80) | shaped
            )
        headers = {**headers, SIGNATURE_HEADER: value}
        if case == "tampered_body":
            body = body + draw(st.sampled_from([b" ", b"\n", b"{}"]))
    return path, body, headers


@fuzz(1200)
@given(data=st.data())
def test_nothing_is_stored_without_authentication(
    client: Client, numbers: dict[str, Number], data: st.DataObject
) -> None:
    provider = data.draw(st.sampled_from(PROVIDERS))
    number, other = (
        numbers[provider],
        numbers["greenapi" if provider == "evolution" else "evolution"],
    )
    # Recordings as sent, or bytes: this test is about who may store, not about what is stored.
    name = data.draw(st.sampled_from(FIXTURES[provider]))
    body = data.draw(
        st.just(json.dumps(RECORDINGS[provider][name]).encode()) | st.binary(max_size=64)
    )
    body = readdress(body, number)
    case = data.draw(st.sampled_from(AUTH_CASES))
    path, body, headers = forged(case, number, other, body, data.draw)
    authentic = case in ("right", "signature_in_window")
    with rolled_back():
        number.refresh_from_db()
        before = snapshot(number)
        response = client.post(path, body, "application/json", headers=headers)
        assert response.status_code < 500, response.status_code
        stored = WebhookEvent.objects.filter(number=number).exists()
        if not authentic:
            assert not stored, case
            assert snapshot(number) == before
        elif response.status_code == 200:
            assert stored, case
