"""Project URLs: admin, portal pages, the public API, provider webhooks, health."""

from django.conf import settings
from django.contrib import admin
from django.http import FileResponse, HttpRequest
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health


def favicon(request: HttpRequest) -> FileResponse:
    """The icon browsers ask for on every page (a 404 there was a warning per page view)."""
    response = FileResponse((settings.BASE_DIR / "static" / "favicon.ico").open("rb"))
    response["Content-Type"] = "image/x-icon"
    response["Cache-Control"] = "public, max-age=86400"
    return response


admin.site.site_header = "WhatsApp Numbers — operations"
admin.site.site_title = "WhatsApp Numbers admin"

# An error outside any view (a middleware saving the session with the database down) is a 503 too.
handler500 = "whatsapp_saas.outage.server_error"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("whatsapp_saas.api.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("", include("tenants.urls")),
    path("", include("instances.urls")),
    path("", include("messaging.urls")),
    path("", include("notifications.urls")),
]

handler403 = "whatsapp_saas.pages.permission_denied"
handler404 = "whatsapp_saas.pages.page_not_found"
