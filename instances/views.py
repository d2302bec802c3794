"""Tenant pages: my numbers, add a number, the connect page (also reachable by a signed link).

Pages read our database only; the provider is called only by the POST actions, via the services.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from providers.errors import ProviderError
from tenants.access import can_manage, membership_of, require_manager, workspace
from tenants.services import tenants_of
from tenants.templatetags.portal import format_phone

from . import services
from .forms import NumberForm, PairingForm
from .models import Number

LINK_SALT = "instances.connect-link"
LINK_MAX_AGE = timedelta(minutes=30)


def number_for_user(request: HttpRequest, number_id: str, *, manage: bool = False) -> Number:
    """A live number of one of the user's tenants, else 404; with `manage`, 403 for members."""
    number = get_object_or_404(
        Number.objects.select_related("tenant").live().filter(tenant__in=tenants_of(request.user)),
        pk=number_id,
    )
    if manage:
        require_manager(membership_of(request.user, number.tenant))
    return number


def connect_state(number: Number) -> dict[str, object]:
    """What the connect page polls every 2 s: our database only."""
    return {
        "status": number.status,
        "status_label": number.get_status_display(),
        "reason": number.status_reason,
        "qr_code": number.qr_code or None,
        "pairing_code": number.pairing_code or None,
        "qr_updated_at": number.qr_updated_at,
        "phone_number": number.phone_number,
        "phone_display": format_phone(number.phone_number),
        "profile_name": number.profile_name,
        "connected": number.is_connected,
    }


@login_required
def number_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The tenant's numbers with their live status."""
    tenant, membership = workspace(request.user, slug)
    numbers = Number.objects.live().filter(tenant=tenant).order_by("name")
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "numbers": [
                    {
                        "id": str(n.pk),
                        "status": n.status,
                        "status_label": n.get_status_display(),
                        "phone_number": n.phone_number,
                        "phone_display": format_phone(n.phone_number),
                    }
                    for n in numbers
                ]
            }
        )
    return render(
        request,
        "instances/number_list.html",
        {
            "tenant": tenant,
            "numbers": numbers,
            "can_manage": can_manage(membership),
            "section": "numbers",
            "show_quota": True,
        },
    )


@login_required
def number_add(request: HttpRequest, slug: str) -> HttpResponse:
    """Add a number (owners and admins), then go to its connect page; errors keep the input."""
    tenant, membership = workspace(request.user, slug)
    if request.method == "POST":
        require_manager(membership)
    form = NumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            number = services.create_number(tenant, created_by=request.user, **form.cleaned_data)
        except services.InvalidCredentials as exc:
            for field in exc.fields:
                form.add_error(field, str(exc))
        except services.NumberError as exc:
            form.add_error(None, str(exc))
        except ProviderError as exc:
            form.add_error(None, f"The provider is not answering ({exc.message}); try again.")
        else:
            if number.status == "error":
                messages.error(
                    request, f"The provider could not create it yet: {number.last_error}"
                )
            return redirect("number-connect", number_id=number.pk)
    return render(
        request,
        "instances/number_add.html",
        {
            "tenant": tenant,
            "form": form,
            "can_manage": can_manage(membership),
            "section": "numbers",
            "show_quota": True,
        },
        status=400 if form.errors else 200,
    )


@login_required
def connect_page(request: HttpRequest, number_id: str) -> HttpResponse:
    """The connect page for a signed-in member."""
    number = number_for_user(request, number_id)
    return render_connect(
        request,
        number,
        reverse("number-connect-start", args=[number.pk]),
        reverse("number-connect-state", args=[number.pk]),
        can_act=can_manage(membership_of(request.user, number.tenant)),
    )


@login_required
def connect_state_view(request: HttpRequest, number_id: str) -> JsonResponse:
    """JSON state for the member's connect page."""
    return JsonResponse(connect_state(number_for_user(request, number_id)))


@login_required
@require_POST
def connect_start(request: HttpRequest, number_id: str) -> HttpResponse:
    """Start a QR or pairing-code connect (owners and admins); a bad phone keeps the form."""
    number = number_for_user(request, number_id, manage=True)
    form = start(request, number)
    if form is not None:
        return render_connect(
            request,
            number,
            reverse("number-connect-start", args=[number.pk]),
            reverse("number-connect-state", args=[number.pk]),
            pairing_form=form,
        )
    return redirect("number-connect", number_id=number.pk)


def start(request: HttpRequest, number: Number) -> PairingForm | None:
    """Ask the services for a QR or pairing code; a rejected pairing form is returned to show."""
    form = PairingForm(request.POST) if request.POST.get("method") == "pairing_code" else None
    if form is not None and not form.is_valid():
        return form
    try:
        services.connect(
            number,
            method="pairing_code" if form else "qr",
            phone_number=form.cleaned_data["phone_number"] if form else "",
            source="operator" if request.user.is_staff else "api",
        )
    except (services.NumberError, ProviderError) as exc:
        messages.error(request, f"Could not start: {exc}")
    return None


def render_connect(
    request: HttpRequest,
    number: Number,
    action: str,
    state_url: str,
    *,
    can_act: bool = True,
    pairing_form: PairingForm | None = None,
) -> HttpResponse:
    """Render the connect page (shared by members and signed links); one step at a time."""
    state = connect_state(number)
    if pairing_form is not None:
        step = "pairing-form"
    elif state["pairing_code"]:
        step = "pairing"
    elif state["qr_code"]:
        step = "qr"
    else:
        step = "pairing-form" if request.GET.get("step") == "pairing" else "choose"
    return render(
        request,
        "instances/connect.html",
        {
            "number": number,
            # A signed link may be opened by anyone: the workspace's navigation only for members.
            "tenant": number.tenant if membership_of(request.user, number.tenant) else None,
            "action": action,
            "state_url": state_url,
            "state": state,
            "step": step,
            "can_act": can_act,
            "pairing_form": pairing_form or PairingForm(),
            "window_seconds": int(services.CONNECT_WINDOW.total_seconds()),
            "section": "numbers",
        },
        status=400 if pairing_form is not None else 200,
    )


# ------------------------------------------------------------------ signed links


def make_link(number: Number) -> str:
    """A link to the connect page that needs no account; dies when connected or after 30 min."""
    token = signing.TimestampSigner(salt=LINK_SALT).sign(str(number.pk))
    return reverse("number-connect-link", args=[token])


def number_from_link(token: str, *, allow_connected: bool = False) -> Number:
    """The number a valid link points to, else 404."""
    try:
        number_id = signing.TimestampSigner(salt=LINK_SALT).unsign(token, max_age=LINK_MAX_AGE)
    except signing.BadSignature:
        raise Http404("This link is invalid or has expired.") from None
    number = get_object_or_404(Number.objects.live(), pk=number_id)
    if number.is_connected and not allow_connected:
        raise Http404("This number is connected; the link is no longer valid.")
    return number


def link_page(request: HttpRequest, token: str) -> HttpResponse:
    """The connect page through a signed link."""
    number = number_from_link(token)
    return render_connect(
        request,
        number,
        reverse("number-connect-link-start", args=[token]),
        reverse("number-connect-link-state", args=[token]),
    )


def link_state(request: HttpRequest, token: str) -> JsonResponse:
    """JSON state through a signed link (still answers once connected, so the page sees success)."""
    return JsonResponse(connect_state(number_from_link(token, allow_connected=True)))


@require_POST
def link_start(request: HttpRequest, token: str) -> HttpResponse:
    """Start connecting through a signed link."""
    number = number_from_link(token)
    form = start(request, number)
    if form is not None:
        return render_connect(
            request,
            number,
            reverse("number-connect-link-start", args=[token]),
            reverse("number-connect-link-state", args=[token]),
            pairing_form=form,
        )
    return redirect("number-connect-link", token=token)
