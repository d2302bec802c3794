"""Django app config for the provider gateway layer (no models)."""

from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    """Provider gateways, their errors and the normalized event vocabulary."""

    name = "providers"
    verbose_name = "Providers"
