"""Tenant pages for conversations, and their live feeds."""

from django.urls import path

from . import live, views

urlpatterns = [
    path("t/<slug:slug>/inbox/", views.inbox, name="inbox"),
    path("t/<slug:slug>/inbox/feed/", live.inbox_feed, name="inbox-feed"),
    path("conversations/<uuid:conversation_id>/", views.conversation, name="conversation"),
    path(
        "conversations/<uuid:conversation_id>/feed/",
        live.conversation_feed,
        name="conversation-feed",
    ),
    path("conversations/<uuid:conversation_id>/read/", views.mark_read, name="conversation-read"),
    path("conversations/<uuid:conversation_id>/reply/", views.reply, name="conversation-reply"),
    path("messages/<uuid:message_id>/media/", views.message_media, name="message-media"),
]
