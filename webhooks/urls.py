"""POST /webhooks/<provider>/<token>/ for every provider in the registry."""

from django.urls import re_path

from providers.registry import PROVIDERS

from . import views

app_name = "webhooks"

providers = "|".join(PROVIDERS)
urlpatterns = [
    re_path(rf"^(?P<provider>{providers})/(?P<token>[^/]+)/$", views.receive, name="receive"),
]
