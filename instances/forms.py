"""Forms of the tenant pages."""

from __future__ import annotations

from typing import Any

from django import forms

from providers.base import e164_digits
from providers.registry import PROVIDER_CHOICES, all_credential_fields
from providers.types import CredentialField

from .api.serializers import PHONE_HELP, missing_credentials
from .models import MAX_SEND_RATE_PER_MINUTE


class NumberForm(forms.Form):
    """Add a number."""

    name = forms.CharField(max_length=100)
    purpose = forms.CharField(
        max_length=200, required=False, help_text="What this number is for, e.g. support or sales."
    )
    provider = forms.ChoiceField(choices=PROVIDER_CHOICES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for _, field in all_credential_fields():
            self.fields.setdefault(field.name, credential_form_field(field))

    def clean(self) -> dict[str, Any]:
        """The chosen provider's required credentials are given (GreenAPI: id and token)."""
        data = super().clean() or {}
        for name, messages in missing_credentials(data.get("provider", ""), data).items():
            self.add_error(name, messages[0])
        return data


def credential_form_field(field: CredentialField) -> forms.Field:
    """The form field of a provider credential (required per provider, in `clean`)."""
    if field.is_url:
        return forms.URLField(required=False, label=field.label)
    if field.secret:
        return forms.CharField(
            required=False, label=field.label, widget=forms.PasswordInput(render_value=True)
        )
    if field.pattern:
        return forms.RegexField(rf"^{field.pattern}$", required=False, label=field.label)
    return forms.CharField(required=False, label=field.label, max_length=field.max_length)


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
