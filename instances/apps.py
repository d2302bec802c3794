"""App configuration for instances."""

from django.apps import AppConfig


class InstancesConfig(AppConfig):
    """instances app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "instances"
    verbose_name = "Numbers"
