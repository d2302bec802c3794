"""Schemathesis against /api/schema/ on a live server: every operation, valid and invalid inputs;
never a 5xx, and every documented answer matches its schema.

The provider is the sandbox, so numbers are really created and connected; about half the cases
address the tenant's real objects (path ids, the body's `number`) instead of random ids. HTTP from
this process to anything but 127.0.0.1 is refused. SCHEMA_FUZZ_EXAMPLES sets the examples per
operation and mode. (schemathesis' pytest plugin does not run under pytest 9: operations are
walked here.)
"""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import pytest
import responses
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.result import Err, Ok

from instances import services
from messaging import campaigns
from messaging.models import Contact, Conversation, Message
from notifications.models import Endpoint
from tenants.models import SCOPES
from tenants.throttling import ApiKeyRateThrottle

EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "15"))
RUN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def world(transactional_db: None, tenant: Any, make_key: Any, sandbox: Any) -> dict[str, str]:
    """A key with every scope, and one real object per collection, by its path segment."""
    number = services.create_number(tenant, name="Support", provider="evolution")
    contact = Contact.objects.create(tenant=tenant, phone="5511988887777")
    conversation = Conversation.objects.create(tenant=tenant, number=number, contact=contact)
    message = Message.objects.create(
        tenant=tenant, number=number, conversation=conversation, direction="outbound", text="Hi"
    )
    campaign = campaigns.create_campaign(
        tenant, number, name="Launch", text="Hi", recipients=["5511988887777"]
    )
    endpoint = Endpoint.objects.create(tenant=tenant, url="https://93.184.215.14/hook")
    key, raw = make_key(tenant, scopes=list(SCOPES))
    return {
        "key": raw,
        "numbers": str(number.pk),
        "messages": str(message.pk),
        "conversations": str(conversation.pk),
        "campaigns": str(campaign.pk),
        "webhook-endpoints": str(endpoint.pk),
        "api-keys": str(key.pk),
    }


def addressing(world: dict[str, str]) -> Any:
    """A function that points a case at the tenant's real objects, when told to."""

    def point(drawn: tuple[Any, bool, bool]) -> Any:
        case, real_id, real_number = drawn
        collection = case.operation.path.split("/api/v1/", 1)[-1].split("/", 1)[0]
        if real_id and case.path_parameters and "id" in case.path_parameters:
            case.path_parameters["id"] = world.get(collection, case.path_parameters["id"])
        if real_number and isinstance(case.body, dict) and "number" in case.body:
            case.body["number"] = world["numbers"]
        return case

    return point


def exercise(
    operation: Any, mode: GenerationMode, world: dict[str, str], seen: Counter[str]
) -> None:
    """Run one operation's generated cases in one mode through both checks."""
    headers = {"Authorization": f"Bearer {world['key']}"}
    cases = st.tuples(operation.as_strategy(generation_mode=mode), st.booleans(), st.booleans())

    @RUN
    @given(case=cases.map(addressing(world)))
    def run(case: Any) -> None:
        seen[operation.label] += 1
        case.call_and_validate(
            headers=headers, checks=[not_a_server_error, response_schema_conformance]
        )

    run()


def test_no_operation_answers_5xx_or_outside_its_schema(
    live_server: Any, world: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "100000/min"})
    failures: list[str] = []
    seen: Counter[str] = Counter()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"https?://(127\.0\.0\.1|localhost)(:\d+)?/"))
        schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
        results = list(schema.get_all_operations())
        assert not [r.err() for r in results if isinstance(r, Err)]
        operations = [r.ok() for r in results if isinstance(r, Ok)]
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    exercise(operation, mode, world, seen)
                except Exception as exc:  # every operation's failure is reported
                    failures.append(f"{operation.label} ({mode.value}): {exc}")
    print(f"schemathesis: {len(operations)} operations, {sum(seen.values())} requests")
    assert len(operations) >= 20 and sum(seen.values()) >= len(operations) * 2
    assert not failures, "\n\n".join(failures)
