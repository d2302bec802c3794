"""One rule for secrets: the same names are masked in nested provider data and in log text."""

from __future__ import annotations

import pytest

from providers.masking import MASK, mask_secrets
from whatsapp_saas.logging import mask

NAMES = [
    "apikey",
    "api_key",
    "apiTokenInstance",
    "webhookUrlToken",
    "Authorization",
    "jwt_key",
    "hash",
    "client_secret",
    "password",
    "passwd",
    "accessKey",
]


def test_secret_values_are_masked_at_any_depth_and_the_rest_is_kept():
    body = {
        "instance": "acme-wa1",
        "apikey": "GLOBAL-KEY",
        "data": {"hash": "INSTANCE-TOKEN", "owner": "5511988887777@s.whatsapp.net"},
        "webhooks": [{"url": "https://example.test/hook", "Authorization": "Bearer abc"}],
    }
    assert mask_secrets(body) == {
        "instance": "acme-wa1",
        "apikey": MASK,
        "data": {"hash": MASK, "owner": "5511988887777@s.whatsapp.net"},
        "webhooks": [{"url": "https://example.test/hook", "Authorization": MASK}],
    }
    assert body["apikey"] == "GLOBAL-KEY"


def test_an_empty_secret_stays_empty_so_its_absence_shows():
    assert mask_secrets({"token": "", "apikey": None}) == {"token": "", "apikey": None}


@pytest.mark.parametrize("name", NAMES)
def test_nested_data_and_log_lines_mask_the_same_names(name):
    assert mask_secrets({name: "S3CRET-VALUE"}) == {name: MASK}
    assert "S3CRET-VALUE" not in mask(f"{name}=S3CRET-VALUE&x=1")
    assert "S3CRET-VALUE" not in mask(f'{{"{name}": "S3CRET-VALUE"}}')
