"""App configuration for messaging."""

from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """messaging app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "messaging"
    verbose_name = "Messaging"
