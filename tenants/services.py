"""Tenant and API-key operations shared by the admin, the commands and the pages."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from .models import SCOPES, ApiKey, Membership, Tenant


class InvalidInput(ValueError):
    """Bad input from an operator; the message says which."""


def unique_slug(name: str) -> str:
    """A slug from the name, suffixed until no tenant uses it."""
    base = slugify(name)[:70] or "tenant"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def create_tenant(
    name: str,
    owner_email: str | None = None,
    owner_password: str | None = None,
    max_numbers: int | None = None,
) -> Tenant:
    """Create a tenant and, if given, its owner (a user found or created by email)."""
    if not name.strip():
        raise InvalidInput("The tenant name must not be empty.")
    fields = {"max_numbers": max_numbers} if max_numbers is not None else {}
    tenant = Tenant.objects.create(name=name.strip(), slug=unique_slug(name), **fields)
    if owner_email:
        user = find_or_create_user(owner_email, owner_password)
        Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.OWNER)
    return tenant


def find_or_create_user(email: str, password: str | None) -> User:
    """The user with this email (also its username), made if missing; sets the password if given."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=email, defaults={"email": email})
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def parse_scopes(text: str) -> list[str]:
    """Turn "a,b" into a checked list of scopes."""
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(
            f"Unknown or missing scopes {unknown or ''}; choose from {', '.join(SCOPES)}."
        )
    return scopes


def find_tenant(slug_or_id: str) -> Tenant:
    """A tenant by slug or UUID."""
    tenant = Tenant.objects.filter(slug=slug_or_id).first()
    if tenant is None:
        try:
            tenant = Tenant.objects.filter(pk=uuid.UUID(slug_or_id)).first()
        except ValueError:
            tenant = None
    if tenant is None:
        raise InvalidInput(f"No tenant with slug or id '{slug_or_id}'.")
    return tenant


def issue_api_key(
    tenant: Tenant,
    name: str,
    scopes: list[str],
    created_by: User | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create an API key; the raw key is returned once and never stored."""
    if not name.strip():
        raise InvalidInput("The key needs a name.")
    return ApiKey.generate(
        tenant=tenant,
        name=name.strip(),
        scopes=scopes,
        created_by=created_by,
        expires_at=expires_at,
    )


def tenants_of(user: User | AnonymousUser) -> QuerySet[Tenant]:
    """The active tenants a user is a member of (staff get no extra reach on the pages)."""
    if isinstance(user, AnonymousUser):
        return Tenant.objects.none()
    return Tenant.objects.filter(memberships__user=user, is_active=True).distinct()


def revoke_api_key(key: ApiKey) -> bool:
    """Revoke a key at once (it answers 401 from now on); False when it was already revoked."""
    return bool(
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )
