"""Number lifecycle against the sandbox provider over real HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, connections
from django.utils import timezone

from instances import services, sync, tasks
from instances.models import Number, hash_secret
from providers.events import ConnectionStatus as S
from providers.evolution_states import evolution_connection_state
from providers.types import ConnectionState
from tenants.models import Membership
from tenants.services import create_tenant

pytestmark = pytest.mark.django_db


def sandbox_instances(sandbox, provider: str = "evolution") -> list[dict]:
    """The instances the sandbox holds for a provider."""
    return [i for i in sandbox.control("GET", "/state")["instances"] if i["provider"] == provider]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_creates_never_exceed_the_quota(sandbox):
    tenant = create_tenant("Busy", max_numbers=3)

    def create(i: int) -> str:
        try:
            return services.create_number(tenant, name=f"n{i}", provider="evolution").status
        except services.QuotaExceeded:
            return "refused"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(create, range(20)))
    assert outcomes.count("refused") == 17
    assert Number.objects.filter(tenant=tenant).count() == 3
    ours = set(Number.objects.values_list("instance_name", flat=True))
    assert {i["name"] for i in sandbox_instances(sandbox)} == ours


def test_a_new_number_is_provisioned_disconnected_with_its_webhook(make_number, sandbox):
    number = make_number()
    assert number.status == "disconnected"
    [held] = sandbox_instances(sandbox)
    assert held["webhook"] == services.webhook_config(number).url
    assert [
        (e.from_status, e.to_status) for e in number.connection_events.order_by("at", "id")
    ] == [("", "provisioning"), ("provisioning", "disconnected")]


def test_a_provider_failure_leaves_the_number_in_error_and_a_retry_cleans_up(make_number, sandbox):
    sandbox.faults(error_rate=1)
    number = make_number()
    assert number.status == "error" and number.last_error
    sandbox.control("DELETE", "/faults")
    number = services.connect(number)
    assert number.status == "qr_pending"
    assert len(sandbox_instances(sandbox)) == 1


def test_connect_shows_a_png_qr_and_each_transition_writes_one_event(make_number, sandbox):
    number = services.connect(make_number())
    assert number.status == "qr_pending" and number.status_reason == "waiting_scan"
    assert number.qr_code.startswith("data:image/png;base64,")
    assert number.qr_expires_at is not None and number.qr_expires_at > timezone.now()
    sandbox.scan("evolution", number.instance_name, phone="5511988887777", profileName="Acme")
    number = services.check_state(number)
    services.check_state(number)
    assert number.status == "connected" and number.status_reason == "scan_completed"
    assert (number.phone_number, number.profile_name) == ("5511988887777", "Acme")
    assert number.qr_code == "" and number.connected_at is not None
    transitions = [
        (e.from_status, e.to_status) for e in number.connection_events.order_by("at", "id")
    ]
    assert transitions == [
        ("", "provisioning"),
        ("provisioning", "disconnected"),
        ("disconnected", "qr_pending"),
        ("qr_pending", "connected"),
    ]


def test_connect_on_a_connected_number_is_refused(connected_number):
    with pytest.raises(services.NumberError, match="already connected"):
        services.connect(connected_number)


def test_a_pairing_code_is_stored_for_the_page(make_number):
    number = services.connect(make_number(), method="pairing_code", phone_number="5511988887777")
    assert len(number.pairing_code) == 8
    assert number.pairing_code_expires_at is not None
    assert number.pairing_code_expires_at > timezone.now()


def test_disconnect_logs_out_at_the_provider(connected_number, sandbox):
    number = services.disconnect(connected_number)
    assert number.status == "disconnected" and number.status_reason == "operator"
    assert number.disconnected_at is not None
    assert sandbox_instances(sandbox)[0]["state"] == "close"


def test_a_logout_from_the_phone_emails_the_tenants_admins(
    connected_number, sandbox, tenant, django_capture_on_commit_callbacks
):
    owner = create_tenant("x", owner_email="boss@acme.test").memberships.get().user
    Membership.objects.create(user=owner, tenant=tenant, role="admin")
    # Only the webhook says why (connectionState just says `close`): Baileys 401, reference 1.6.
    status, reason = evolution_connection_state("close", 401)
    with django_capture_on_commit_callbacks(execute=True):
        number = services.apply_state(connected_number, ConnectionState(status, reason), "webhook")
        services.apply_state(number, ConnectionState(status, reason), "webhook")
    assert (number.status, number.status_reason) == ("logged_out", "logged_out")
    assert [m.to for m in mail.outbox] == [["boss@acme.test"]]
    assert "logged out" in mail.outbox[0].subject


def test_delete_removes_the_provider_instance_and_the_row(make_number, sandbox):
    number = make_number()
    assert services.delete_number(number) is True
    assert not Number.objects.filter(pk=number.pk).exists()
    assert sandbox_instances(sandbox) == []


def test_a_delete_while_the_provider_is_down_completes_once_it_is_back(make_number, sandbox):
    number = make_number()
    sandbox.faults(error_rate=1)
    assert services.delete_number(number) is False
    assert not Number.objects.live().filter(pk=number.pk).exists()
    assert tasks.finish_deletions() == 0
    sandbox.control("DELETE", "/faults")
    assert tasks.finish_deletions() == 1
    assert not Number.objects.filter(pk=number.pk).exists()
    assert sandbox_instances(sandbox) == []


def test_secrets_are_encrypted_in_the_table(make_number):
    number = make_number(provider="greenapi")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT provider_token, webhook_token, webhook_secret::text "
            "FROM instances_number WHERE id = %s",
            [number.pk],
        )
        stored = " ".join(
            str(bytes(v)) if isinstance(v, memoryview) else str(v) for v in cursor.fetchone()
        )
    for secret in (number.provider_token, number.webhook_token, number.webhook_secret):
        assert secret and secret not in stored


def test_sync_marks_ours_missing_at_the_provider_and_reports_theirs(make_number, sandbox):
    kept, lost = make_number("kept"), make_number("lost")
    sandbox.control("POST", "/reset")
    services.provision(kept)
    report = sync.sync_provider("evolution")
    assert report.missing_at_provider == [lost.instance_name]
    lost.refresh_from_db()
    assert (lost.status, lost.status_reason) == ("disconnected", "not_found")
    stranger = services.get_gateway("evolution").new_instance_name("stranger")
    from providers.types import InstanceRef, WebhookConfig

    services.get_gateway("evolution").create_instance(
        InstanceRef(stranger), WebhookConfig("http://127.0.0.1:9/x/")
    )
    assert sync.sync_provider("evolution").unknown_at_provider == [stranger]
    assert {i["name"] for i in sandbox_instances(sandbox)} >= {stranger, kept.instance_name}


def test_a_drifted_webhook_is_re_applied(make_number, sandbox):
    number = make_number()
    gateway = services.gateway_for(number)
    from providers.types import WebhookConfig

    gateway.set_webhook(number.ref, WebhookConfig("http://127.0.0.1:9/elsewhere/", "x"))
    assert sync.ensure_webhook(number) is True
    assert sync.ensure_webhook(number) is False
    assert sandbox_instances(sandbox)[0]["webhook"] == services.webhook_config(number).url


def test_greenapi_numbers_connect_through_the_same_services(make_number, sandbox):
    number = services.connect(make_number(provider="greenapi"))
    assert number.status == "qr_pending" and number.qr_code.startswith("data:image/png;base64,")
    sandbox.scan("greenapi", number.provider_instance_id, phone="5521977776666")
    assert services.check_state(number).status == "connected"


def test_rotating_the_webhook_secret_keeps_the_old_one_for_the_changeover(make_number, sandbox):
    number = make_number()
    old = number.webhook_secret
    services.rotate_webhook_secret(number)
    number.refresh_from_db()
    assert number.previous_webhook_secret == old and number.webhook_secret != old
    current = services.gateway_for(number).get_webhook(number.ref)
    assert current is not None and current.matches(services.webhook_config(number))
    # What webhooks compare follows the rotation.
    assert number.webhook_secret_hash == hash_secret(number.webhook_secret)
    assert number.previous_webhook_secret_hash == hash_secret(old)


def test_sync_also_covers_greenapi_through_its_partner_api(make_number, sandbox):
    number = make_number(provider="greenapi")
    assert sync.sync_provider("greenapi").missing_at_provider == []
    sandbox.control("DELETE", f"/greenapi/instances/{number.provider_instance_id}")
    assert sync.sync_provider("greenapi").missing_at_provider == [number.provider_instance_id]


def test_a_late_connection_event_does_not_undo_a_newer_one(connected_number):
    now = timezone.now()
    lost = ConnectionState(*evolution_connection_state("close", 428))
    services.apply_state(connected_number, ConnectionState(S.CONNECTED), "webhook", occurred_at=now)
    number = services.apply_state(
        connected_number, lost, "webhook", occurred_at=now - timedelta(seconds=2)
    )
    assert number.status == "connected"
    number = services.apply_state(number, lost, "webhook", occurred_at=now + timedelta(seconds=1))
    assert (number.status, number.status_reason) == ("disconnected", "connection_lost")


def test_a_number_paused_for_send_failures_stays_paused_until_an_operator_resumes_it(
    connected_number,
):
    number = services.change_status(
        connected_number, S.PAUSED, "send_failures", "poll", consecutive_send_failures=10
    )
    number = services.check_state(number)
    assert (number.status, number.status_reason) == ("paused", "send_failures")
    number = services.resume(number)
    assert number.status == "connected" and number.consecutive_send_failures == 0
    assert number.connection_events.filter(source="operator", to_status="connecting").exists()
