"""Portal URLs of the notifications app: the webhook endpoints settings page."""

from django.urls import path

from . import pages

urlpatterns = [
    path("t/<slug:slug>/settings/webhooks/", pages.endpoints, name="settings-webhooks"),
    path(
        "t/<slug:slug>/settings/webhooks/<uuid:endpoint_id>/test/",
        pages.test_endpoint,
        name="settings-webhook-test",
    ),
    path(
        "t/<slug:slug>/settings/webhooks/<uuid:endpoint_id>/delete/",
        pages.delete_endpoint,
        name="settings-webhook-delete",
    ),
]
