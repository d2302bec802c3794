"""POST /webhooks/<provider>/<token>/ for every provider in the registry."""

from django.urls import re_path

from providers.registry import PROVIDERS

from . import views

app_name = "webhooks"

# Under /webhooks/ (whatsapp_saas/urls.py); webhooks/fastpath.py matches the same pattern.
PATTERN = rf"(?P<provider>{'|'.join(PROVIDERS)})/(?P<token>[^/]+)/$"
urlpatterns = [
    re_path(rf"^{PATTERN}", views.receive, name="receive"),
]
