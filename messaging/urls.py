"""Tenant pages for conversations."""

from django.urls import path

from . import views

urlpatterns = [
    path("t/<slug:slug>/inbox/", views.inbox, name="inbox"),
    path("conversations/<uuid:conversation_id>/", views.conversation, name="conversation"),
    path("conversations/<uuid:conversation_id>/reply/", views.reply, name="conversation-reply"),
]
