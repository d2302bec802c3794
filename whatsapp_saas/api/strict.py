"""JSON types checked before DRF's coercion: `"text": 123` is a 400 naming `text` (API.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

# Most specific first: BooleanField is no CharField, but IntegerField must refuse True.
EXPECTED: list[tuple[type[serializers.Field], tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "a boolean"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.ListField, (list,), "a list"),
    (serializers.DictField, (dict,), "an object"),
    (serializers.CharField, (str,), "a string"),
    (serializers.UUIDField, (str,), "a string"),
    (serializers.ChoiceField, (str,), "a string"),
    (serializers.DateTimeField, (str,), "a string"),
]


def wrong_type(field: serializers.Field, value: Any) -> str | None:
    """The error for a value of the wrong JSON type for this field, else None."""
    if value is None:
        return None  # DRF's own `allow_null` check answers for null
    for field_class, types, name in EXPECTED:
        if isinstance(field, field_class):
            ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
            return None if ok else f"Must be {name}."
    return None


class StrictTypes(serializers.Serializer):
    """A serializer whose fields take only values of their own JSON type, never coerced ones."""

    def to_internal_value(self, data: Any) -> Any:
        """Refuse wrongly typed fields, all named at once, then validate as usual."""
        if isinstance(data, Mapping):
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data:
                    continue
                if (message := wrong_type(field, data[name])) is not None:
                    errors[name] = [message]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
