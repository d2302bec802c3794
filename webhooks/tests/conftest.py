"""Fixtures for webhook tests: deliver payloads as providers do, run tasks in-process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import current_app
from django.test import Client

from instances.models import Number
from webhooks.fixtures import (
    addressed_to,
    fixture_names,
    load_fixture,
    provider_headers,
    webhook_path,
)

from .cases import FixtureContract

Deliver = Callable[..., Any]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per fixture file (and per dedupe case) for each provider's FixtureContract."""
    contract = metafunc.cls
    if contract is None or not issubclass(contract, FixtureContract):
        return
    if "fixture_name" in metafunc.fixturenames:
        metafunc.parametrize("fixture_name", fixture_names(contract.provider))
    if "dedupe_case" in metafunc.fixturenames:
        metafunc.parametrize(
            "dedupe_case",
            sorted(contract.dedupe_keys.items()),
            ids=lambda case: case[0] if isinstance(case, tuple) else case,
        )


@pytest.fixture
def deliver(client: Client) -> Deliver:
    """POST a payload (dict or bytes) to a number's webhook URL as its provider would.

    `headers` replaces the provider's secret headers; `sign=True` adds a valid signature.
    """

    def post(
        number: Number,
        payload: Any,
        *,
        headers: dict[str, str] | None = None,
        sign: bool = False,
        via: Client | None = None,
    ) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = provider_headers(number, body, sign=sign) if headers is None else headers
        return (via or client).post(
            webhook_path(number), body, content_type="application/json", headers=sent
        )

    return post


@pytest.fixture
def fixture_for() -> Callable[[Number, str], dict[str, Any]]:
    """A fixture payload addressed to a given number."""

    def make(number: Number, name: str) -> dict[str, Any]:
        return addressed_to(number, load_fixture(number.provider, name))

    return make


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Run Celery tasks in-process (delay() runs them at once) for this test."""
    conf = current_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved
