"""Running fixtures through their provider's normalizer; the contract every normalizer passes."""

from __future__ import annotations

from typing import Any, ClassVar

from providers.events import ProviderEvent
from webhooks.fixtures import fixture_bytes, fixture_names, load_fixture
from webhooks.normalizers import get_normalizer

__all__ = [
    "Expected",
    "FixtureContract",
    "assert_normalizes",
    "fixture_bytes",
    "fixture_names",
    "load_fixture",
    "normalize_fixture",
]

Expected = list[tuple[type[ProviderEvent], dict[str, Any]]]


def normalize_fixture(provider: str, name: str) -> list[ProviderEvent]:
    """Normalize a fixture, holding the normalizer to its declared types."""
    normalizer = get_normalizer(provider)
    events = normalizer.normalize(load_fixture(provider, name))
    undeclared = {e.type for e in events} - normalizer.ALL_EVENT_TYPES
    assert not undeclared, f"{name} produced undeclared types {undeclared}"
    return events


def assert_normalizes(provider: str, name: str, expected: Expected) -> None:
    """The fixture gives exactly these events, with these field values, keeping the raw payload."""
    events = normalize_fixture(provider, name)
    got = [
        (type(e), {field: getattr(e, field) for field in want})
        for e, (_, want) in zip(events, expected, strict=False)
    ]
    assert got == expected and len(events) == len(expected), events
    assert all(e.raw == load_fixture(provider, name) and e.provider == provider for e in events)


class FixtureContract:
    """Tests every provider's normalizer passes; a subclass per provider sets the attributes.

    `fixture_name` and `dedupe_case` are parametrized by webhooks/tests/conftest.py.
    """

    provider: ClassVar[str]
    expected: ClassVar[dict[str, Expected]]
    dedupe_keys: ClassVar[dict[str, str]]
    odd_payloads: ClassVar[list[dict[str, Any]]]

    def test_fixture_normalizes_as_the_reference_says(self, fixture_name: str) -> None:
        assert fixture_name in self.expected, f"fixture {fixture_name} has no expected result"
        event = get_normalizer(self.provider).event_name(load_fixture(self.provider, fixture_name))
        assert fixture_name.split("__")[0] == event.replace(".", "_")
        assert_normalizes(self.provider, fixture_name, self.expected[fixture_name])

    def test_every_fixture_is_exercised_and_every_expectation_has_a_fixture(self) -> None:
        assert set(self.expected) == set(fixture_names(self.provider))

    def test_fixtures_produce_every_declared_type(self) -> None:
        produced = {
            e.type
            for name in fixture_names(self.provider)
            for e in normalize_fixture(self.provider, name)
        }
        assert produced == get_normalizer(self.provider).ALL_EVENT_TYPES

    def test_dedupe_keys_follow_reference_r6(self, dedupe_case: tuple[str, str]) -> None:
        name, key = dedupe_case
        payload, body = load_fixture(self.provider, name), fixture_bytes(self.provider, name)
        assert get_normalizer(self.provider).dedupe_key(payload, body) == key

    def test_odd_payloads_never_raise(self) -> None:
        normalizer = get_normalizer(self.provider)
        for payload in self.odd_payloads:
            normalizer.normalize(payload)
            normalizer.dedupe_key(payload, b"{}")
