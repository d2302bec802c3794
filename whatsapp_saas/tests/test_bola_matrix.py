"""Broken object-level authorization, checked on every API route the URL configuration has.

Routes are read from the resolver, so an endpoint added tomorrow is in the matrix the day it is
added; its object kind comes from its view's queryset, and a kind without a factory below fails
the test until one is written. Tenant A's key (every scope) calls each route and method with the
id of each of tenant B's objects: every answer is a 404, and nothing of B's changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import responses
from django.apps import apps
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from instances.models import Number
from messaging import campaigns
from messaging.models import Contact, Conversation, Message
from tenants.models import SCOPES, Tenant
from tenants.services import create_tenant, issue_api_key

pytestmark = pytest.mark.django_db
API_PREFIX = "api/v1/"
# Bodies that would pass validation, so an answer other than 404 cannot hide behind a 400.
BODIES = {
    "post": {"method": "qr", "name": "x", "text": "x"},
    "put": {"name": "x", "purpose": "x"},
    "patch": {"name": "x", "purpose": "x"},
}


@dataclass(frozen=True)
class Route:
    """One API URL pattern and what serves it."""

    pattern: str
    name: str
    view: Any
    methods: tuple[str, ...]
    has_pk: bool
    has_format: bool

    @property
    def model(self) -> type[Model] | None:
        """The object kind behind the route (its view's queryset model)."""
        queryset = getattr(self.view, "queryset", None)
        return None if queryset is None else queryset.model

    def url(self, pk: Any = None) -> str:
        """The route's URL for an object id (and the `.json` suffix on format routes)."""
        kwargs = {"pk": str(pk)} if self.has_pk else {}
        return reverse(
            self.name, kwargs={**kwargs, **({"format": "json"} if self.has_format else {})}
        )


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    """Every leaf pattern with its full route."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def api_routes() -> list[Route]:
    """Every route under /api/v1/, from the URL configuration."""
    found = []
    for route, pattern in walk(get_resolver().url_patterns):
        if not route.startswith(API_PREFIX):
            continue
        callback = pattern.callback
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        actions = getattr(callback, "actions", None)
        methods = (
            tuple(actions)
            if actions
            else tuple(m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m))
        )
        # A method the view refuses outright is a 405 for every id: no object is looked up.
        methods = tuple(m for m in methods if m in getattr(view, "http_method_names", methods))
        found.append(
            Route(
                pattern=route,
                name=pattern.name or "",
                view=view,
                methods=methods,
                has_pk="(?P<pk>" in route or "<pk>" in route,
                has_format="(?P<format>" in route,
            )
        )
    return found


ROUTES = api_routes()
CASES = [(r, m) for r in ROUTES for m in r.methods]


def case_id(case: Any) -> str:
    if isinstance(case, Route):
        return re.sub(r"[^\w]+", "_", case.pattern[len(API_PREFIX) :]).strip("_") or "root"
    return str(case)


# ------------------------------------------------------------------ tenant B's world

Factory = Callable[[type[Model], "World"], Model]


@dataclass
class World:
    """Tenant B's objects, one of each kind the API serves."""

    tenant: Tenant
    number: Number
    conversation: Conversation
    objects: dict[str, Model]


def make_number(model: type[Model], world: World) -> Model:
    return world.number


def make_conversation(model: type[Model], world: World) -> Model:
    return world.conversation


def make_message(model: type[Model], world: World) -> Model:
    return Message.objects.create(
        tenant=world.tenant,
        number=world.number,
        conversation=world.conversation,
        direction="outbound",
        status="sent",
        recipient="5511977776666",
        text="B's secret",
        provider_message_id="B-MSG-1",
    )


def make_campaign(model: type[Model], world: World) -> Model:
    return campaigns.create_campaign(
        world.tenant, world.number, name="B launch", text="hi", recipients=["5511977776666"]
    )


def make_api_key(model: type[Model], world: World) -> Model:
    return issue_api_key(world.tenant, "B key", ["numbers:read"])[0]


def make_endpoint(model: type[Model], world: World) -> Model:
    # The model is taken from the route: it may live in webhooks or notifications.
    endpoint: Model = model.objects.create(  # type: ignore[attr-defined]
        tenant=world.tenant, url="https://93.184.215.14/b-hook"
    )
    return endpoint


# By model name, so a model that moves between apps keeps its factory.
FACTORIES: dict[str, Factory] = {
    "Number": make_number,
    "Conversation": make_conversation,
    "Message": make_message,
    "Campaign": make_campaign,
    "ApiKey": make_api_key,
    "Endpoint": make_endpoint,
}


@pytest.fixture
def world(db: None) -> World:
    """Tenant B with one object of every kind an API route serves."""
    tenant = create_tenant("Globex")
    number = Number.objects.create(
        tenant=tenant,
        name="B line",
        provider="evolution",
        instance_name="globex-wa1",
        provider_instance_id="globex-wa1",
        status="connected",
        phone_number="5511955554444",
    )
    contact = Contact.objects.create(tenant=tenant, phone="5511977776666")
    conversation = Conversation.objects.create(tenant=tenant, number=number, contact=contact)
    built = World(tenant, number, conversation, {})
    kinds = {r.model for r in ROUTES if r.model is not None}
    for model in kinds:
        factory = FACTORIES.get(model.__name__)
        assert factory, f"add a factory for {model.__name__} so the BOLA matrix covers it"
        built.objects[model.__name__] = factory(model, built)
    return built


@pytest.fixture
def attacker(tenant: Tenant, make_key: Any, client_for: Any) -> Any:
    """Tenant A's client with every scope, and an object of A's own so lists are not empty."""
    Number.objects.create(
        tenant=tenant,
        name="A line",
        provider="evolution",
        instance_name="acme-a1",
        status="connected",
    )
    return client_for(make_key(tenant, scopes=list(SCOPES))[1])


def snapshot(tenant: Tenant, *, counts: bool = True) -> dict[str, Any]:
    """Every row of B's (models with a tenant) and the row count of every other model."""
    state: dict[str, Any] = {}
    for model in apps.get_models():
        names = {f.name for f in model._meta.get_fields()}
        label = model._meta.label
        if "tenant" in names:
            rows = model.objects.filter(tenant=tenant).order_by("pk").values()  # type: ignore[attr-defined]
            state[label] = [dict(row) for row in rows]
        elif counts:
            state[label] = model.objects.count()  # type: ignore[attr-defined]
    return state


def b_ids(world: World) -> list[str]:
    """The ids of all of B's objects, as they would appear in a response."""
    return [str(o.pk) for o in world.objects.values()] + [str(world.number.pk)]


# ------------------------------------------------------------------ the matrix


def test_the_matrix_covers_every_api_route_and_object_kind():
    names = {r.name for r in ROUTES}
    kinds = {r.model.__name__ for r in ROUTES if r.model is not None}
    assert {"number-detail", "message-detail", "campaign-start", "conversation-messages"} <= names
    assert kinds <= set(FACTORIES)
    assert len([c for c in CASES if c[0].has_pk]) >= 15


@pytest.mark.parametrize(
    ("route", "method"), [c for c in CASES if c[0].has_pk], ids=lambda c: case_id(c)
)
def test_another_tenants_objects_answer_404_and_stay_unchanged(world, attacker, route, method):
    before = snapshot(world.tenant)
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        # Any provider call would fail here: an object of B's must be refused before one.
        for kind, obj in world.objects.items():
            call = getattr(attacker, method)
            response = call(route.url(obj.pk), BODIES.get(method), format="json")
            assert response.status_code == 404, (kind, response.status_code, response.content)
            assert response.json()["error"]["code"] == "not_found"
    assert snapshot(world.tenant) == before
    assert not borrowed(world)


@pytest.mark.parametrize(
    ("route", "method"),
    [c for c in CASES if not c[0].has_pk and c[1] == "get"],
    ids=lambda c: case_id(c),
)
def test_lists_never_show_another_tenants_objects_whatever_the_filter(
    world, attacker, route, method
):
    filters = getattr(route.view, "filterset_fields", None) or []
    model = route.model
    related = {
        name: model._meta.get_field(name).related_model
        for name in filters
        if model is not None and model._meta.get_field(name).is_relation
    }
    # Each relation filter set to B's object of that kind.
    queries: list[dict[str, str]] = [{}]
    queries += [
        {name: str(obj.pk)}
        for name, kind in related.items()
        for obj in [world.number, world.conversation, *world.objects.values()]
        if isinstance(obj, kind)
    ]
    for query in queries:
        response = attacker.get(route.url(), query)
        assert response.status_code in (200, 400), (query, response.content)
        body = response.content.decode()
        assert not [i for i in b_ids(world) if i in body], query
    if route.name == "provider-health":
        assert attacker.get(route.url()).json()["instances"]["total"] == 1


@pytest.mark.parametrize(
    ("route", "method"),
    [c for c in CASES if not c[0].has_pk and c[1] == "post"],
    ids=lambda c: case_id(c),
)
def test_creating_with_another_tenants_number_is_refused_and_changes_nothing(
    world, attacker, route, method
):
    before = snapshot(world.tenant, counts=False)
    body = {
        "number": str(world.number.pk),
        "to": "5511977776666",
        "type": "text",
        "text": "hi",
        "name": "x",
        "recipients": ["5511977776666"],
        "url": "https://93.184.215.14/hook",
        "provider": "evolution",
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        response = attacker.post(route.url(), body, format="json")
    assert response.status_code < 500, response.content
    if response.status_code < 300:
        # Created for A (an endpoint, a number): then never with B's number in it.
        assert "number" not in response.json() or response.json()["number"] != body["number"]
    assert snapshot(world.tenant, counts=False) == before
    assert not borrowed(world)


def borrowed(world: World) -> list[str]:
    """Rows of another tenant that point at B's number."""
    found = []
    for model in apps.get_models():
        names = {f.name for f in model._meta.get_fields()}
        if {"number", "tenant"} <= names:
            rows = model.objects.filter(number=world.number).exclude(tenant=world.tenant)  # type: ignore[attr-defined]
            found += [f"{model._meta.label}:{pk}" for pk in rows.values_list("pk", flat=True)]
    return found
