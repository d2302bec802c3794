"""Tenant pages for numbers."""

from django.urls import path

from . import pages, views

urlpatterns = [
    path("t/<slug:slug>/numbers/", views.number_list, name="number-list"),
    path("t/<slug:slug>/numbers/add/", views.number_add, name="number-add"),
    path("numbers/<uuid:number_id>/", pages.number_detail, name="number-detail"),
    path("numbers/<uuid:number_id>/disconnect/", pages.disconnect, name="number-disconnect"),
    path("numbers/<uuid:number_id>/reconnect/", pages.reconnect, name="number-reconnect"),
    path("numbers/<uuid:number_id>/resume/", pages.resume, name="number-resume"),
    path("numbers/<uuid:number_id>/edit/", pages.edit, name="number-edit"),
    path("numbers/<uuid:number_id>/delete/", pages.delete, name="number-delete"),
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
