"""Fixtures: a manual-clock sandbox per session (reset before each test), a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.testing import SandboxServer, WebhookReceiver, running_sandbox


@pytest.fixture(scope="session")
def server() -> Iterator[SandboxServer]:
    """Start the sandbox once, on a free port, with a manual clock and a fixed seed."""
    with running_sandbox(
        clock="manual", seed=1234, evolution_qr_seconds=45, evolution_qr_limit=30
    ) as running:
        yield running


@pytest.fixture
def sandbox(server: SandboxServer) -> SandboxServer:
    """Give each test a clean sandbox (instances, faults, settings, webhook log).

    These tests check what each event carries and in which order it is emitted, so Evolution
    deliveries keep that order here; the concurrency tests turn the default back on.
    """
    server.reset()
    server.settings(evolution_webhook_order="ordered")
    return server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """Capture the webhooks the sandbox sends."""
    with WebhookReceiver() as hooks:
        yield hooks
