"""Forms of the tenant pages."""

from __future__ import annotations

from typing import Any

from django import forms

from providers.base import e164_digits
from providers.registry import PROVIDER_CHOICES

from .api.serializers import PHONE_HELP
from .models import MAX_SEND_RATE_PER_MINUTE


class NumberForm(forms.Form):
    """Add a number."""

    name = forms.CharField(max_length=100)
    purpose = forms.CharField(
        max_length=200, required=False, help_text="What this number is for, e.g. support or sales."
    )
    provider = forms.ChoiceField(choices=PROVIDER_CHOICES)
    greenapi_id_instance = forms.RegexField(
        r"^\d{1,20}$", required=False, label="GreenAPI idInstance"
    )
    greenapi_api_token = forms.CharField(
        required=False,
        label="GreenAPI apiTokenInstance",
        widget=forms.PasswordInput(render_value=True),
    )

    def clean(self) -> dict[str, Any]:
        """GreenAPI numbers come from GreenAPI's console with their id and token."""
        data = super().clean() or {}
        if data.get("provider") == "greenapi":
            for field in ("greenapi_id_instance", "greenapi_api_token"):
                if not data.get(field):
                    self.add_error(field, "Required for GreenAPI numbers.")
        return data


class PairingForm(forms.Form):
    """The phone that will enter a pairing code."""

    phone_number = forms.CharField(label="Phone number with country code")

    def clean_phone_number(self) -> str:
        """8 to 15 digits once +, spaces and dashes are removed."""
        digits = e164_digits(self.cleaned_data["phone_number"])
        if digits is None:
            raise forms.ValidationError(PHONE_HELP)
        return digits


class NumberSettingsForm(forms.Form):
    """Rename a number, say what it is for, set its send rate."""

    name = forms.CharField(max_length=100)
    purpose = forms.CharField(max_length=200, required=False)
    send_rate_per_minute = forms.IntegerField(
        label="Messages per minute",
        min_value=1,
        max_value=MAX_SEND_RATE_PER_MINUTE,
        help_text="WhatsApp restricts numbers that send too fast; 20 a minute is a safe start.",
    )
