"""Tenant pages: the inbox of a workspace and a conversation with replies."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from instances.models import Number
from providers.base import e164_digits
from tenants.access import workspace
from tenants.services import tenants_of

from . import feed, media, services
from .feed import MESSAGE_COLUMNS
from .models import Conversation, Message
from .presentation import conversation_row, message_row

HISTORY = 200


class ReplyForm(forms.Form):
    """A text reply."""

    text = forms.CharField(
        max_length=4096, widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Write a reply"})
    )


class NewChatForm(forms.Form):
    """Start a chat: which of the workspace's numbers, and whose phone."""

    number = forms.ChoiceField()
    phone = forms.CharField(label="Phone with country code", max_length=40)

    def __init__(self, *args: object, numbers: list[Number], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["number"] = forms.ChoiceField(choices=[(str(n.pk), n.name) for n in numbers])
        self.fields["phone"].widget.attrs.update(placeholder="+55 11 99999-9999", type="tel")

    def clean_phone(self) -> str:
        """8 to 15 digits once +, spaces and dashes are removed."""
        digits = e164_digits(self.cleaned_data["phone"])
        if digits is None:
            raise forms.ValidationError("Enter the number with country code: 8 to 15 digits.")
        return digits


def as_uuid(value: str) -> uuid.UUID | None:
    """A UUID from a form or query value, or None."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


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
    """Conversations newest first, searchable by name or phone, of all numbers or one."""
    tenant, _ = workspace(request.user, slug)
    numbers = list(Number.objects.live().filter(tenant=tenant).order_by("name"))
    selected, q = request.GET.get("number", ""), request.GET.get("q", "")
    if selected and selected not in {str(n.pk) for n in numbers}:
        selected = ""
    cursor = timezone.now()
    rows = feed.inbox(Conversation.objects.filter(tenant=tenant), selected, q).order_by(
        F("last_message_at").desc(nulls_last=True), "-created_at"
    )[:HISTORY]
    new_chat = NewChatForm(request.POST or None, numbers=numbers, initial={"number": selected})
    if request.method == "POST" and new_chat.is_valid():
        number = next(n for n in numbers if str(n.pk) == new_chat.cleaned_data["number"])
        convo = services.start_conversation(number, new_chat.cleaned_data["phone"])
        return redirect("conversation", conversation_id=convo.pk)
    return render(
        request,
        "messaging/inbox.html",
        {
            "tenant": tenant,
            "numbers": numbers,
            "conversations": [conversation_row(r) for r in rows],
            "selected": selected,
            "q": q,
            "cursor": cursor.isoformat(),
            "new_chat": new_chat,
            "section": "inbox",
        },
        status=400 if new_chat.errors else 200,
    )


@login_required
def conversation(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """The newest messages, oldest first, with ticks; what is shown here counts as read."""
    convo = conversation_for_user(request, conversation_id)
    cursor = timezone.now()
    history = list(convo.messages.order_by("-created_at")[:HISTORY])[::-1]
    if history:
        services.mark_read(convo, history[-1])
    rows = Message.objects.filter(pk__in=[m.pk for m in history]).order_by("created_at")
    return render(
        request,
        "messaging/conversation.html",
        {
            "tenant": convo.tenant,
            "conversation": convo,
            "history": [message_row(row) for row in rows.values(*MESSAGE_COLUMNS)],
            "form": ReplyForm(),
            "cursor": cursor.isoformat(),
            "section": "inbox",
        },
    )


@login_required
def message_media(request: HttpRequest, message_id: str) -> HttpResponseBase:
    """The stored file of an inbound message, for members of its workspace (the page's media)."""
    message = get_object_or_404(
        Message.objects.select_related("media_file"),
        pk=message_id,
        deleted_at__isnull=True,
        tenant__is_active=True,
        tenant__memberships__user=request.user,
    )
    found = media.of(message)
    if found is None or found.status != found.Status.STORED:
        raise Http404("No stored file")
    return media.response(found)


@login_required
@require_POST
def mark_read(request: HttpRequest, conversation_id: str) -> JsonResponse:
    """The page displayed messages up to `through`: clear the unread count that far."""
    convo = conversation_for_user(request, conversation_id)
    through_id = as_uuid(request.POST.get("through", ""))
    through = (
        Message.objects.filter(conversation=convo, pk=through_id).first() if through_id else None
    )
    if through is None:
        return JsonResponse(
            {"error": "Name a message of this conversation in `through`."}, status=400
        )
    return JsonResponse({"unread": services.mark_read(convo, through)})


@login_required
@require_POST
def reply(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """Queue a text reply through the normal pipeline; the page's script gets JSON back."""
    from .outbox import QueueRefused, queue_message

    convo = conversation_for_user(request, conversation_id)
    form = ReplyForm(request.POST)
    error = ""
    if not form.is_valid():
        error = "Write a message of 1 to 4096 characters."
    elif convo.contact.is_group:
        error = "Group conversations are read-only here."
    else:
        try:
            message = queue_message(
                convo.number, to=convo.contact.phone, type="text", text=form.cleaned_data["text"]
            )
        except QueueRefused as exc:
            error = str(exc)
    if "application/json" in request.headers.get("Accept", ""):
        if error:
            return JsonResponse({"error": error}, status=400)
        return JsonResponse({"id": str(message.pk)}, status=201)
    if error:
        flash.error(request, error)
    return redirect("conversation", conversation_id=convo.pk)
