"""Shared shape of the admin actions that call a service on each selected object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest


def apply_each(
    request: HttpRequest,
    queryset: QuerySet[Any],
    verb: str,
    func: Callable[[Any], object],
    errors: tuple[type[Exception], ...],
) -> None:
    """Call `func` on each object; report each expected error by object, then the successes."""
    done = 0
    for obj in queryset:
        try:
            func(obj)
            done += 1
        except errors as exc:
            messages.error(request, f"{obj}: {exc}")
    if done:
        messages.success(request, f"{verb}: {done} of {len(queryset)} selected.")
