"""Fixtures for tenant-webhook tests: a local receiver our guard may call, and registration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from notifications import delivery as deliveries
from notifications.models import Delivery
from sandbox.testing import WebhookReceiver
from tenants.models import Tenant

PROVIDER_ID = "3EB08EE80DB4E276AFE85B"  # our_message (conftest.py)


@pytest.fixture
def receiver(settings: Any) -> Iterator[WebhookReceiver]:
    """A local server recording what our deliveries post, listed as an allowed internal host."""
    with WebhookReceiver() as server:
        settings.ALLOWED_INTERNAL_HOSTS = [f"127.0.0.1:{server.port}"]
        yield server


@pytest.fixture
def register(
    client_for: Callable[[str], APIClient], make_key: Callable[..., Any]
) -> Callable[..., dict[str, Any]]:
    """Register an endpoint through the API for a tenant; returns the create response."""

    def make(tenant: Tenant, url: str, **body: Any) -> dict[str, Any]:
        api = client_for(make_key(tenant)[1])
        response = api.post("/api/v1/webhook-endpoints/", {"url": url, **body}, format="json")
        assert response.status_code == 201, response.json()
        return dict(response.json())

    return make


Committed = Callable[[], Any]


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Committed:
    """A block whose on-commit work (domain events, then deliveries) runs as a commit runs it."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def run_due(delivery: Delivery) -> str:
    """Make a delivery due now and run it once, as its retry task would."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    return deliveries.deliver(str(delivery.pk))
