"""Numbers as the public API shows them: never a token or secret."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from instances.models import MAX_SEND_RATE_PER_MINUTE, ConnectionEvent, Number
from providers.base import e164_digits
from providers.registry import PROVIDER_CHOICES, all_credential_fields, credential_fields
from providers.types import CredentialField
from whatsapp_saas.api.fast import FastRepresentation
from whatsapp_saas.api.strict import StrictTypes

PHONE_HELP = "Enter the number with country code: 8 to 15 digits."


def clean_phone(value: str) -> str:
    """Digits only, 8 to 15 of them (a leading +, spaces and dashes are allowed)."""
    digits = e164_digits(value)
    if digits is None:
        raise serializers.ValidationError(PHONE_HELP)
    return digits


class NumberSerializer(FastRepresentation, StrictTypes, serializers.ModelSerializer):
    """A number (API.md)."""

    class Meta:
        model = Number
        fields = [
            "id",
            "name",
            "purpose",
            "provider",
            "instance_name",
            "status",
            "status_reason",
            "phone_number",
            "profile_name",
            "send_rate_per_minute",
            "connected_at",
            "disconnected_at",
            "qr_updated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            f for f in fields if f not in {"name", "purpose", "send_rate_per_minute"}
        ]
        extra_kwargs = {
            "send_rate_per_minute": {"min_value": 1, "max_value": MAX_SEND_RATE_PER_MINUTE}
        }


class NumberCreateSerializer(StrictTypes):
    """The body of POST /numbers/."""

    name = serializers.CharField(max_length=100)
    provider = serializers.ChoiceField(choices=PROVIDER_CHOICES)
    purpose = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    phone_number = serializers.CharField(required=False, allow_blank=True, default="")

    def get_fields(self) -> dict[str, serializers.Field]:
        """The common fields plus every provider's declared credential fields."""
        fields = super().get_fields()
        for _, field in all_credential_fields():
            fields.setdefault(field.name, credential_field(field))
        return fields

    def validate_phone_number(self, value: str) -> str:
        """Optional, but well formed when given."""
        return clean_phone(value) if value else ""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The chosen provider's required credentials are given (GreenAPI: id and token)."""
        missing = missing_credentials(attrs["provider"], attrs)
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


def credential_field(field: CredentialField) -> serializers.Field:
    """The API field of a provider credential (optional here; `validate` checks per provider)."""
    options: dict[str, Any] = {"required": False, "default": "", "max_length": field.max_length}
    if field.secret:
        options["write_only"] = True
    if field.is_url:
        return serializers.URLField(**options)
    if field.pattern:
        return serializers.RegexField(rf"^{field.pattern}$", **options)
    return serializers.CharField(**options)


def missing_credentials(provider: str, given: dict[str, Any]) -> dict[str, list[str]]:
    """{field: [message]} for the provider's required credentials that are empty."""
    label = dict(PROVIDER_CHOICES).get(provider, provider)
    return {
        field.name: [f"Required for {label} numbers."]
        for field in credential_fields(provider)
        if field.required and not given.get(field.name)
    }


class ConnectSerializer(StrictTypes):
    """The body of POST /numbers/{id}/connect/."""

    method = serializers.ChoiceField(choices=["qr", "pairing_code"], default="qr")
    phone_number = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_phone_number(self, value: str) -> str:
        """Well formed when given."""
        return clean_phone(value) if value else ""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """A pairing code is for one phone: its number is required then."""
        if attrs["method"] == "pairing_code" and not attrs.get("phone_number"):
            raise serializers.ValidationError(
                {"phone_number": ["Required for the pairing_code method."]}
            )
        return attrs


class ConnectResultSerializer(serializers.Serializer):
    """The answer of connect."""

    status = serializers.CharField()
    qr_code = serializers.CharField(allow_null=True)
    pairing_code = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)


class NumberStatusSerializer(serializers.ModelSerializer):
    """GET /numbers/{id}/status/."""

    reason = serializers.CharField(source="status_reason")
    qr_code = serializers.SerializerMethodField()
    pairing_code = serializers.SerializerMethodField()
    last_update = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Number
        fields = [
            "status",
            "reason",
            "qr_code",
            "pairing_code",
            "phone_number",
            "profile_name",
            "connected_at",
            "disconnected_at",
            "qr_updated_at",
            "last_update",
        ]

    def get_qr_code(self, number: Number) -> str | None:
        """The current QR while waiting for a scan."""
        return number.qr_code or None

    def get_pairing_code(self, number: Number) -> str | None:
        """The pairing code while it is valid, as the connect answer shows it."""
        expires = number.pairing_code_expires_at
        if not number.pairing_code or (expires is not None and expires <= timezone.now()):
            return None
        return str(number.pairing_code)


class ConnectionEventSerializer(FastRepresentation, serializers.ModelSerializer):
    """One step of a number's history: {"from", "to", "reason", "source", "at"}."""

    to = serializers.CharField(source="to_status", read_only=True)

    class Meta:
        model = ConnectionEvent
        fields = ["to", "reason", "source", "at"]
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        """`from` is a Python keyword, so it is added here, first."""
        fields = super().get_fields()
        return {"from": serializers.CharField(source="from_status", read_only=True), **fields}
