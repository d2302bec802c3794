"""App configuration for tenants."""

from django.apps import AppConfig


class TenantsConfig(AppConfig):
    """Tenants, memberships and API keys."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        """Register the OpenAPI description of API-key authentication."""
        from . import schema  # noqa: F401
