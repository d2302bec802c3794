"""Tenant pages: an inbox of conversations per number and a conversation view with replies."""

from __future__ import annotations

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from instances.models import Number
from tenants.services import tenants_of

from .models import Conversation

TICKS = {
    "queued": "🕓",
    "sent": "✓",
    "delivered": "✓✓",
    "read": "✓✓",
    "played": "✓✓",
    "failed": "!",
}


class ReplyForm(forms.Form):
    """A text reply."""

    text = forms.CharField(max_length=4096, widget=forms.Textarea(attrs={"rows": 2}))


def conversation_for_user(request: HttpRequest, conversation_id: str) -> Conversation:
    """A conversation of one of the user's tenants, else 404."""
    return get_object_or_404(
        Conversation.objects.select_related("contact", "number", "tenant").filter(
            tenant__in=tenants_of(request.user)
        ),
        pk=conversation_id,
    )


@login_required
def inbox(request: HttpRequest, slug: str) -> HttpResponse:
    """Conversations of the tenant, newest first, optionally of one number."""
    tenant = get_object_or_404(tenants_of(request.user), slug=slug)
    numbers = Number.objects.live().filter(tenant=tenant).order_by("name")
    conversations = Conversation.objects.filter(tenant=tenant).select_related("contact", "number")
    selected = request.GET.get("number")
    if selected:
        conversations = conversations.filter(number_id=selected)
    conversations = conversations.order_by(F("last_message_at").desc(nulls_last=True))[:200]
    return render(
        request,
        "messaging/inbox.html",
        {
            "tenant": tenant,
            "numbers": numbers,
            "conversations": conversations,
            "selected": selected,
        },
    )


@login_required
def conversation(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """The messages of a conversation, oldest first, with status ticks; opening it marks it read."""
    convo = conversation_for_user(request, conversation_id)
    Conversation.objects.filter(pk=convo.pk).update(unread_count=0)
    history = list(convo.messages.order_by("-created_at")[:200])[::-1]
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "messages": [
                    {"id": str(m.pk), "status": m.status, "tick": TICKS.get(m.status, "")}
                    for m in history
                ]
            }
        )
    for message in history:
        message.tick = TICKS.get(message.status, "")
    return render(
        request,
        "messaging/conversation.html",
        {"tenant": convo.tenant, "conversation": convo, "history": history, "form": ReplyForm()},
    )


@login_required
@require_POST
def reply(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """Queue a text reply to the conversation's contact through the normal pipeline."""
    from .outbox import QueueRefused, queue_message

    convo = conversation_for_user(request, conversation_id)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        flash.error(request, "Write a message of 1 to 4096 characters.")
    elif convo.contact.is_group:
        flash.error(request, "Group conversations are read-only here.")
    else:
        try:
            queue_message(
                convo.number, to=convo.contact.phone, type="text", text=form.cleaned_data["text"]
            )
        except QueueRefused as exc:
            flash.error(request, str(exc))
    return redirect("conversation", conversation_id=convo.pk)
