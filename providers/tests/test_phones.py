"""Phone numbers and JIDs turn into E.164 digits in one place."""

from __future__ import annotations

import pytest

from providers.base import e164_digits, jid_digits


@pytest.mark.parametrize(
    "typed, digits",
    [
        ("+55 11 98888-7777", "5511988887777"),
        ("(55) 11.98888.7777", "5511988887777"),
        ("12345678", "12345678"),
        ("1234567", None),
        ("1234567890123456", None),
        ("55a11", None),
        ("", None),
    ],
)
def test_a_typed_phone_becomes_its_e164_digits_or_none(typed, digits):
    assert e164_digits(typed) == digits


@pytest.mark.parametrize(
    "jid, digits",
    [
        ("5511988887777@s.whatsapp.net", "5511988887777"),
        ("5511988887777@c.us", "5511988887777"),
        ("5511988887777:12@s.whatsapp.net", "5511988887777"),
        ("", ""),
    ],
)
def test_a_jid_gives_the_digits_of_its_phone(jid, digits):
    assert jid_digits(jid) == digits
