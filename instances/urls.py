"""Tenant pages for numbers."""

from django.urls import path

from . import views

urlpatterns = [
    path("t/<slug:slug>/numbers/", views.number_list, name="number-list"),
    path("t/<slug:slug>/numbers/add/", views.number_add, name="number-add"),
    path("numbers/<uuid:number_id>/connect/", views.connect_page, name="number-connect"),
    path(
        "numbers/<uuid:number_id>/connect/state/",
        views.connect_state_view,
        name="number-connect-state",
    ),
    path(
        "numbers/<uuid:number_id>/connect/start/", views.connect_start, name="number-connect-start"
    ),
    path("connect/<str:token>/", views.link_page, name="number-connect-link"),
    path("connect/<str:token>/state/", views.link_state, name="number-connect-link-state"),
    path("connect/<str:token>/start/", views.link_start, name="number-connect-link-start"),
]
