"""WSGI entry point (gunicorn whatsapp_saas.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_saas.settings.base")
application = get_wsgi_application()
