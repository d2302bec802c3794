"""Portal URLs: login, logout, the user's tenants, workspace settings."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import settings_views, views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="portal-home"),
    path("t/<slug:slug>/", views.tenant_detail, name="tenant-detail"),
    path("t/<slug:slug>/settings/keys/", settings_views.api_keys, name="settings-keys"),
    path(
        "t/<slug:slug>/settings/keys/<uuid:key_id>/revoke/",
        settings_views.revoke_key,
        name="settings-key-revoke",
    ),
]
