"""The polling safety nets: right numbers, and no provider calls for the others."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from instances import health, services, tasks
from instances.models import ConnectionEvent, Number
from providers.events import ConnectionStatus, StateReason
from providers.events import ConnectionStatus as S
from providers.events import StateReason as R

Source = ConnectionEvent.Source

pytestmark = pytest.mark.django_db


def test_polling_calls_the_provider_only_for_numbers_waiting_for_a_scan(
    make_number, provider_calls
):
    idle = [make_number(f"idle{i}") for i in range(3)]
    waiting = services.connect(make_number("waiting"))
    provider_calls.calls.clear()
    assert tasks.poll_pending_numbers() == 1
    assert len(provider_calls.calls) == 1
    assert waiting.instance_name in provider_calls.calls[0][1]
    assert all(n.instance_name not in provider_calls.calls[0][1] for n in idle)


def test_polling_with_nothing_pending_makes_no_provider_call(make_number, provider_calls):
    make_number()
    provider_calls.calls.clear()
    assert tasks.poll_pending_numbers() == 0
    assert provider_calls.calls == []


def test_a_scan_not_completed_in_five_minutes_expires(make_number, provider_calls):
    number = services.connect(make_number())
    Number.objects.filter(pk=number.pk).update(
        connect_started_at=timezone.now() - timedelta(minutes=5, seconds=1)
    )
    provider_calls.calls.clear()
    tasks.poll_pending_numbers()
    number.refresh_from_db()
    assert (number.status, number.status_reason) == ("disconnected", "qr_expired")
    assert number.qr_code == ""
    assert provider_calls.calls == []


def test_polling_turns_a_scanned_number_connected(make_number, sandbox):
    number = services.connect(make_number())
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    tasks.poll_pending_numbers()
    number.refresh_from_db()
    assert number.status == "connected"


def connect_many(
    make_number: Any, sandbox: Any, count: int, provider: str = "evolution"
) -> list[Number]:
    """`count` numbers linked at the sandbox and connected in our database."""
    numbers = []
    for i in range(count):
        number = services.connect(make_number(f"n{i}", provider=provider))
        key = number.instance_name if provider == "evolution" else number.provider_instance_id
        sandbox.scan(provider, key)
        numbers.append(services.check_state(number))
    return numbers


def test_reconcile_lists_evolution_instances_in_one_call_however_many_are_connected(
    tenant: Any, make_number: Any, sandbox: Any, provider_calls: Any
) -> None:
    tenant.max_numbers = 10
    tenant.save()
    connect_many(make_number, sandbox, 6)
    provider_calls.calls.clear()
    assert tasks.reconcile_connected_numbers() == {"evolution": 0, "greenapi": 0}
    assert [(m, url.split("?")[0].rsplit("/", 1)[-1]) for m, url in provider_calls.calls] == [
        ("GET", "fetchInstances")
    ]
    assert set(Number.objects.values_list("status", flat=True)) == {"connected"}


def test_reconcile_queries_do_not_grow_with_connected_numbers(
    tenant: Any, make_number: Any, sandbox: Any
) -> None:
    tenant.max_numbers = 10
    tenant.save()
    connect_many(make_number, sandbox, 2)
    with CaptureQueriesContext(connection) as few:
        tasks.reconcile_connected_numbers()
    for i in range(2, 8):
        number = services.connect(make_number(f"m{i}"))
        sandbox.scan("evolution", number.instance_name)
        services.check_state(number)
    with CaptureQueriesContext(connection) as many:
        tasks.reconcile_connected_numbers()
    assert len(many) == len(few)


def test_reconcile_applies_a_disconnect_the_listing_shows_after_reading_the_live_state(
    tenant: Any, make_number: Any, sandbox: Any, provider_calls: Any
) -> None:
    tenant.max_numbers = 10
    tenant.save()
    kept, lost = connect_many(make_number, sandbox, 2)
    # The provider's webhook for this close goes nowhere (PUBLIC_BASE_URL is port 9 in tests).
    sandbox.control(
        "POST",
        f"/evolution/instances/{lost.instance_name}/disconnect",
        {"reason": "logged_out", "recover": False},
    )
    provider_calls.calls.clear()
    assert tasks.reconcile_connected_numbers()["evolution"] == 1
    paths = [url.split("?")[0].rsplit("/", 2)[-2:] for _, url in provider_calls.calls]
    assert paths == [["instance", "fetchInstances"], ["connectionState", lost.instance_name]]
    lost.refresh_from_db()
    kept.refresh_from_db()
    assert lost.status != "connected" and kept.status == "connected"
    assert lost.connection_events.filter(from_status="connected", source="poll").exists()


def test_reconcile_makes_no_per_number_calls_when_the_listing_fails(
    tenant: Any, make_number: Any, sandbox: Any, provider_calls: Any
) -> None:
    tenant.max_numbers = 10
    tenant.save()
    connect_many(make_number, sandbox, 3)
    sandbox.faults(error_rate=1.0, error_status=400, path_contains="fetchInstances", count=1)
    provider_calls.calls.clear()
    assert tasks.reconcile_connected_numbers() == {"evolution": 0, "greenapi": 0}
    assert len(provider_calls.calls) == 1


def test_reconcile_checks_greenapi_numbers_one_by_one_a_fifth_per_run(
    tenant: Any, make_number: Any, sandbox: Any
) -> None:
    tenant.max_numbers = 10
    tenant.save()
    connect_many(make_number, sandbox, 10, provider="greenapi")
    assert tasks.reconcile_connected_numbers()["greenapi"] == 0
    Number.objects.update(last_state_check_at=timezone.now() - timedelta(minutes=6))
    runs = [tasks.reconcile_connected_numbers()["greenapi"] for _ in range(6)]
    assert runs == [2, 2, 2, 2, 2, 0]


def stuck_connecting(number: Number) -> Number:
    """The number has said `connecting` for three minutes."""
    services.change_status(number, S.CONNECTING, R.NONE, Source.POLL)
    Number.objects.filter(pk=number.pk).update(
        status_changed_at=timezone.now() - timedelta(minutes=3)
    )
    return number


def test_a_number_stuck_connecting_is_restarted_once(make_number, provider_calls):
    number = stuck_connecting(services.connect(make_number()))
    provider_calls.calls.clear()
    assert tasks.restart_stuck_numbers() == 1
    assert [m for m, _ in provider_calls.calls] == ["POST"]
    assert tasks.restart_stuck_numbers() == 0
    number.refresh_from_db()
    assert (number.status, number.status_reason) == (S.CONNECTING, R.RESTART_REQUIRED)


def test_the_stuck_restart_is_recorded_as_a_connection_event_of_the_task(make_number):
    number = stuck_connecting(services.connect(make_number()))
    tasks.restart_stuck_numbers()
    event = ConnectionEvent.objects.filter(number=number).latest("at", "id")
    assert (event.source, event.from_status, event.to_status, event.reason) == (
        Source.TASK,
        S.CONNECTING,
        S.CONNECTING,
        R.RESTART_REQUIRED,
    )


def test_a_refused_stuck_restart_waits_like_a_done_one(make_number, sandbox, provider_calls):
    number = stuck_connecting(services.connect(make_number()))
    sandbox.faults(error_rate=1, error_status=400, path_contains="/instance/restart")
    provider_calls.calls.clear()
    assert tasks.restart_stuck_numbers() == 0
    assert tasks.restart_stuck_numbers() == 0
    assert len(provider_calls.calls) == 1
    assert Number.objects.get(pk=number.pk).status == S.CONNECTING


def test_a_stuck_restart_that_failed_for_now_is_tried_again(make_number, sandbox):
    stuck_connecting(services.connect(make_number()))
    sandbox.faults(error_rate=1, error_status=503, path_contains="/instance/restart", count=1)
    assert tasks.restart_stuck_numbers() == 0
    assert tasks.restart_stuck_numbers() == 1


def test_provider_health_is_stored_for_the_api(sandbox, api):
    health.check_providers()
    body = api.get("/api/v1/health/providers/").json()
    assert body["providers"]["evolution"]["reachable"] is True
    assert set(body["providers"]["evolution"]) == {
        "reachable",
        "response_time_ms",
        "version",
        "last_check",
    }
    assert body["status"] in {"healthy", "degraded"}
    assert body["instances"]["total"] == 0


def test_the_daily_sync_repairs_the_webhook_of_a_number_waiting_for_its_scan(make_number, sandbox):
    from providers.types import WebhookConfig

    number = make_number()
    services.gateway_for(number).set_webhook(
        number.ref, WebhookConfig("http://127.0.0.1:9/x/", "x")
    )
    tasks.sync_provider_instances("evolution")
    held = sandbox.control("GET", f"/evolution/instances/{number.instance_name}")
    assert held["webhook"] == services.webhook_config(number).url


def test_banned_and_paused_greenapi_numbers_are_rechecked_rarely_and_a_later_state_applied(
    greenapi_number: Number, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GreenAPI sends no notAuthorized after `blocked` (reference 2.4): polling finds it."""
    from providers.greenapi import GreenApiGateway
    from providers.types import ConnectionState

    Number.objects.filter(pk=greenapi_number.pk).update(status="banned", status_reason="blocked")
    states = [ConnectionState(ConnectionStatus.DISCONNECTED, StateReason.WAITING_SCAN)]
    monkeypatch.setattr(GreenApiGateway, "get_state", lambda self, ref: states[0])
    assert tasks.recheck_held_numbers() == 1
    greenapi_number.refresh_from_db()
    assert (greenapi_number.status, greenapi_number.status_reason) == (
        "disconnected",
        "waiting_scan",
    )
    Number.objects.filter(pk=greenapi_number.pk).update(status="banned")
    assert tasks.recheck_held_numbers() == 0  # checked a moment ago: not again for 30 minutes
