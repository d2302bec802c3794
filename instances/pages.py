"""A number's own page: what it is, its history and failures, and the actions owners may take.

Members see everything; only owners and admins get the buttons, and a member posting an action
gets 403. Every action goes through instances.services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from messaging.models import SendAttempt
from providers.errors import ProviderError
from tenants.access import can_manage, membership_of

from . import services
from .forms import NumberSettingsForm
from .models import STATUS_CHOICES, ConnectionEvent, Number
from .presentation import BAN_REVIEW_URL, next_step, reason_text
from .views import number_for_user

HISTORY = 50
LABELS = dict(STATUS_CHOICES)
# Reasons the status's own sentence already says (and no reason at all).
SAID_BY_STATUS = {"", "waiting_scan", "send_failures"}
FAILURES = 10


def history(number: Number) -> list[dict[str, Any]]:
    """The number's status changes, newest first, in words."""
    return [
        {
            "at": event.at,
            "from": LABELS.get(event.from_status, "New"),
            "to": LABELS.get(event.to_status, event.to_status),
            "reason": reason_text(event.reason) if event.reason else "",
            "source": event.get_source_display(),
        }
        for event in ConnectionEvent.objects.filter(number=number)[:HISTORY]
    ]


def last_failures(number: Number) -> list[SendAttempt]:
    """The number's latest send tries that did not get through."""
    return list(
        SendAttempt.objects.filter(message__number=number)
        .exclude(outcome=SendAttempt.Outcome.SENT)
        .exclude(outcome="")
        .select_related("message")
        .order_by("-started_at")[:FAILURES]
    )


@login_required
def number_detail(request: HttpRequest, number_id: str) -> HttpResponse:
    """Status, reason, provider, instance, phone, times, history, failures and actions."""
    number = number_for_user(request, number_id)
    return render_detail(request, number, NumberSettingsForm(initial=settings_of(number)))


def settings_of(number: Number) -> dict[str, Any]:
    """The settings form's current values."""
    return {
        "name": number.name,
        "purpose": number.purpose,
        "send_rate_per_minute": number.send_rate_per_minute,
    }


def render_detail(
    request: HttpRequest, number: Number, form: NumberSettingsForm, status: int = 200
) -> HttpResponse:
    """The number page."""
    return render(
        request,
        "instances/number_detail.html",
        {
            "tenant": number.tenant,
            "number": number,
            "reason": reason_text(number.status_reason)
            if number.status_reason not in SAID_BY_STATUS
            else "",
            "step": next_step(number.status),
            "history": history(number),
            "failures": last_failures(number),
            "form": form,
            "can_manage": can_manage(membership_of(request.user, number.tenant)),
            "review_url": BAN_REVIEW_URL,
            "section": "numbers",
        },
        status=status,
    )


def act(
    request: HttpRequest, number_id: str, run: Callable[[Number], Any], done: str
) -> HttpResponse:
    """Run one action of an owner or admin; provider and state errors become a message."""
    number = number_for_user(request, number_id, manage=True)
    try:
        number = run(number)
    except (services.NumberError, ProviderError) as exc:
        messages.error(request, f"Could not do it: {exc}")
        return redirect("number-detail", number_id=number.pk)
    messages.success(request, done)
    if number.status == "qr_pending":
        return redirect("number-connect", number_id=number.pk)
    return redirect("number-detail", number_id=number.pk)


@login_required
@require_POST
def disconnect(request: HttpRequest, number_id: str) -> HttpResponse:
    """Log the WhatsApp session out; the number can be linked again."""
    return act(request, number_id, services.disconnect, "Disconnected: WhatsApp logged out.")


@login_required
@require_POST
def reconnect(request: HttpRequest, number_id: str) -> HttpResponse:
    """Restart the session, or show a new QR code when it needs linking again."""
    return act(request, number_id, services.reconnect, "Reconnecting.")


@login_required
@require_POST
def resume(request: HttpRequest, number_id: str) -> HttpResponse:
    """Lift a pause after send failures."""
    return act(
        request,
        number_id,
        lambda n: services.resume(n, source=ConnectionEvent.Source.API),
        "Sending resumed.",
    )


@login_required
@require_POST
def edit(request: HttpRequest, number_id: str) -> HttpResponse:
    """Rename, re-describe or change the send rate; errors keep the input."""
    number = number_for_user(request, number_id, manage=True)
    form = NumberSettingsForm(request.POST)
    if not form.is_valid():
        return render_detail(request, number, form, status=400)
    services.update_number(number, **form.cleaned_data)
    messages.success(request, "Saved.")
    return redirect("number-detail", number_id=number.pk)


@login_required
def delete(request: HttpRequest, number_id: str) -> HttpResponse:
    """Ask first; then remove at the provider and here, freeing the quota slot at once."""
    number = number_for_user(request, number_id, manage=request.method == "POST")
    if request.method != "POST":
        return render(
            request,
            "instances/number_delete.html",
            {
                "tenant": number.tenant,
                "number": number,
                "can_manage": can_manage(membership_of(request.user, number.tenant)),
                "section": "numbers",
            },
        )
    finished = services.delete_number(number)
    messages.success(
        request,
        f"{number.name} was deleted."
        if finished
        else f"{number.name} was deleted here; the provider will be cleaned up when it answers.",
    )
    return redirect("number-list", slug=number.tenant.slug)
