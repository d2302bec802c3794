"""WSGI entry point (gunicorn whatsapp_saas.wsgi): provider webhooks first, then Django."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_saas.settings.base")
django_application = get_wsgi_application()

from webhooks.fastpath import WebhookFastPath  # noqa: E402 - needs the settings set up above

application = WebhookFastPath(django_application)
