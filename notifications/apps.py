"""App configuration for notifications: subscribes to the domain events when Django starts."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """notifications app: tenants' webhook endpoints and our deliveries to them."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = "Notifications (tenant webhooks)"

    def ready(self) -> None:
        """Listen to the domain events the services emit."""
        from whatsapp_saas.domain_events import occurred

        from .subscribers import on_domain_events

        occurred.connect(on_domain_events, dispatch_uid="notifications")
