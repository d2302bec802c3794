"""Branded error pages for the portal (the API keeps its JSON envelope), also with DEBUG on."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404

PAGES = {
    403: ("Not allowed", "Your role in this workspace does not allow this. Ask an owner or admin."),
    404: ("Page not found", "This page does not exist, or it is not in one of your workspaces."),
}
# Paths whose errors keep their own format: the API's envelope, the admin's pages, files.
OWN_FORMAT = ("/api/", "/admin/", "/static/", "/webhooks/", "/metrics")


def error_page(request: HttpRequest, status: int, detail: str = "") -> HttpResponse:
    """The branded page for a status."""
    title, text = PAGES[status]
    response = render(
        request,
        "error.html",
        {"status": status, "title": title, "text": text, "detail": detail},
        status=status,
    )
    response.branded = True  # type: ignore[attr-defined]
    return response


def detail_of(exception: Exception | None) -> str:
    """A message worth showing: ours, not Django's lookups or URL resolver details."""
    if exception is None or isinstance(exception, Resolver404) or not exception.args:
        return ""
    message = exception.args[0]
    if not isinstance(message, str) or "matches the given query" in message:
        return ""
    return message


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404."""
    return error_page(request, 404, detail_of(exception))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403."""
    return error_page(request, 403, detail_of(exception))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: an expired form is a 403 that says to reload."""
    return error_page(request, 403, "The form expired: reload the page and try again.")


class BrandedNotFoundMiddleware:
    """With DEBUG on (the local run), dead portal links get the branded 404, not Django's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and not getattr(response, "branded", False)
            and response.get("Content-Type", "").startswith("text/html")
            and not request.path.startswith(OWN_FORMAT)
        ):
            return page_not_found(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view's Http404 keeps its message on the branded page."""
        if (
            settings.DEBUG
            and isinstance(exception, Http404)
            and not request.path.startswith(OWN_FORMAT)
        ):
            return page_not_found(request, exception)
        return None
