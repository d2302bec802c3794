"""Scope permission: a view declares `required_scopes` per action or HTTP method."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import permissions
from rest_framework.request import Request

from .models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView


class HasScope(permissions.BasePermission):
    """Allow a request whose API key carries the scope the view requires."""

    message = "This API key lacks the scope this endpoint requires."

    def has_permission(self, request: Request, view: APIView) -> bool:
        """No key: not authenticated (401); a key without the scope: 403."""
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        scope = required_scope(request, view)
        if scope is not None and not key.has_scope(scope):
            self.message = f"This API key lacks the '{scope}' scope."
            return False
        return True


def required_scope(request: Request, view: APIView) -> str | None:
    """The scope for this request: `required_scopes[action]`, else by safe or unsafe method."""
    scopes: dict[str, str] = getattr(view, "required_scopes", {})
    action = getattr(view, "action", None)
    if action and action in scopes:
        return scopes[action]
    kind = "read" if request.method in permissions.SAFE_METHODS else "write"
    return scopes.get(kind)
