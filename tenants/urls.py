"""Portal URLs: login, logout, the user's tenants."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="portal-home"),
    path("t/<slug:slug>/", views.tenant_detail, name="tenant-detail"),
]
