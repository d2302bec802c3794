"""Who may do what on the tenant pages: members view, owners and admins act."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Membership, Tenant

MANAGERS = {Membership.Role.OWNER, Membership.Role.ADMIN}


def membership_of(user: AbstractBaseUser | AnonymousUser, tenant: Tenant) -> Membership | None:
    """The user's membership of an active tenant, or None."""
    if not user.is_authenticated or not tenant.is_active:
        return None
    return Membership.objects.filter(user_id=user.pk, tenant=tenant).first()


def workspace(user: AbstractBaseUser | AnonymousUser, slug: str) -> tuple[Tenant, Membership]:
    """The tenant with this slug and the user's membership of it; 404 when they are no member."""
    membership = (
        Membership.objects.select_related("tenant")
        .filter(user_id=user.pk, tenant__slug=slug, tenant__is_active=True)
        .first()
        if user.is_authenticated
        else None
    )
    if membership is None:
        raise Http404("No such workspace.")
    return membership.tenant, membership


def can_manage(membership: Membership | None) -> bool:
    """Owners and admins change numbers, keys and settings; members only look."""
    return membership is not None and membership.role in MANAGERS


def require_manager(membership: Membership | None) -> None:
    """403 unless the membership may act."""
    if not can_manage(membership):
        raise PermissionDenied("Only the workspace's owners and admins may do this.")
