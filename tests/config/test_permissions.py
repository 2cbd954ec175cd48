"""Role x endpoint matrix, generated from the URL configuration.

Every API route and page declares who may use it: DRF views through their permission classes
(`HasRole(...)` and `OpsAccess` carry `required_role`, `AllowAny` is public, `IsAuthenticated`
any signed-in user), function views through `role_required` / `ops_access_required` (which
set `required_roles`), and the few public pages or undecorated views in `DECLARED` below. An
endpoint declared nowhere fails this test: adding a route means saying who may call it.

For each endpoint, every role the declaration does not allow is refused (401/403, or the sign-in
page for anonymous visitors) before the view does any work, so no model is ever loaded here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.permissions import AllowAny, IsAuthenticated

from apps.accounts.models import Role, User

PUBLIC = "public"
SIGNED_IN = "signed in"

# Endpoints whose access is not visible on the view itself, with the reason.
DECLARED: dict[str, str] = {
    "": PUBLIC,  # the home page
    "healthz": PUBLIC,  # load balancer probe
    "accounts/login/": PUBLIC,
    "accounts/logout/": PUBLIC,
    "support/chat/": PUBLIC,  # the customers' chat page
    "support/widget-i18n.js": PUBLIC,  # the chat widget's fixed texts in the visitor's language
    "support/articles/<int:pk>/": PUBLIC,  # published articles; drafts 404 for non-agents
    # Links in alert emails, authorised by their signed token.
    "sentiment/alerts/<int:pk>/email/<str:action>/<str:token>/": PUBLIC,
    "sentiment/unsubscribe/<str:token>/": PUBLIC,
    # The storefront (anonymous shoppers; an account's own data only).
    "shop/": PUBLIC,
    "shop/item/<int:item_id>/": PUBLIC,
    "shop/item/<int:item_id>/review/": PUBLIC,
    "shop/cart/": PUBLIC,
    "shop/cart/add/<int:item_id>/": PUBLIC,
    "shop/cart/remove/<int:item_id>/": PUBLIC,
    "shop/checkout/": PUBLIC,
    "shop/join/": PUBLIC,  # a shopper's sign-up
    "shop/placeholder/<int:item_id>.svg": PUBLIC,
    # DRF routers' index pages: link names only.
    "api/support/": SIGNED_IN,
    "api/sentiment/": SIGNED_IN,
}

ROLES: dict[str, list[str] | None] = {
    "anonymous": None,
    "customer": [],
    "agent": [Role.SUPPORT_AGENT],
    "analyst": [Role.ANALYST],
    "merchandiser": [Role.MERCHANDISER],
    "mladmin": [Role.ML_ADMIN],
    "admin": [],  # a superuser: every role
}


@dataclass(frozen=True)
class Access:
    """Who may call an endpoint: `roles` (all of them), for every method but `public_methods`."""

    kind: str  # PUBLIC, SIGNED_IN or "roles"
    roles: frozenset[str] = field(default_factory=frozenset)
    public_methods: tuple[str, ...] = ()

    def allows(self, role_name: str, method: str) -> bool:
        if self.kind == PUBLIC or method in self.public_methods:
            return True
        if role_name == "anonymous":
            return False
        if self.kind == SIGNED_IN or role_name == "admin":
            return True
        held = set(ROLES[role_name] or [])
        return self.roles <= held


def _endpoints(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _endpoints(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def checked_endpoints() -> list[tuple[str, URLPattern]]:
    """Every route but Django's admin (its own staff check) and DRF's `.json` suffix twins."""
    return [
        (route, pattern)
        for route, pattern in _endpoints(get_resolver().url_patterns)
        if not route.startswith("admin/") and "format" not in route
    ]


def declared_access(route: str, callback: Any) -> Access | None:
    """The access an endpoint declares, or None when it declares none."""
    if route in DECLARED:
        return Access(DECLARED[route])
    view_class = getattr(callback, "cls", None)
    if view_class is not None:
        declared = any("permission_classes" in vars(k) for k in view_class.__mro__[:-3])
        if not declared:
            return None  # only DRF's default (IsAuthenticated): nobody decided
        return _drf_access(view_class.permission_classes)
    roles = getattr(callback, "required_roles", None)
    return Access("roles", frozenset(roles)) if roles else None


def _drf_access(permission_classes: Any) -> Access | None:
    roles: set[str] = set()
    public_methods: tuple[str, ...] = ()
    for permission in permission_classes:
        if permission is AllowAny:
            return Access(PUBLIC)
        if permission is IsAuthenticated:
            continue
        role = getattr(permission, "required_role", None)
        if role is None:
            return None  # a permission class that does not say which role it wants
        roles.add(role)
        public_methods = getattr(permission, "public_methods", public_methods)
    if not roles:
        return Access(SIGNED_IN)
    return Access("roles", frozenset(roles), public_methods)


def sample_path(route: str) -> str:
    """A concrete URL for a route, e.g. `api/^items/(?P<pk>[0-9]+)$` -> `/api/items/1`."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)  # a router's regex group
    path = re.sub(r"<uuid:\w+>", str(uuid.UUID(int=1)), path)
    path = re.sub(r"<int:\w+>", "1", path)
    path = re.sub(r"<(?:str|slug|path):\w+>|<\w+>", "x", path)
    return "/" + path.replace("^", "").replace("$", "")


ENDPOINTS = checked_endpoints()


@pytest.fixture(scope="module")
def role_clients(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Client]]:
    """A client per role, signed in once for the whole matrix; the users go afterwards."""
    with django_db_blocker.unblock():
        clients, users = {}, []
        for name, roles in ROLES.items():
            clients[name] = Client()
            if roles is None:
                continue
            user = User.objects.create_user(
                username=f"matrix-{name}", password=None, is_superuser=name == "admin"
            )
            user.groups.set([Group.objects.get_or_create(name=role)[0] for role in roles])
            clients[name].force_login(user)
            users.append(user.pk)
            # Refusals prove something only if each client really is its role.
            me = clients[name].get("/api/accounts/me/").json()
            assert me["username"] == user.username and set(roles) <= set(me["roles"])
        yield clients
        User.objects.filter(pk__in=users).delete()


def _denied(response: Any) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "pattern"), ENDPOINTS, ids=[r for r, _ in ENDPOINTS])
def test_every_endpoint_refuses_the_roles_it_does_not_declare(
    route: str, pattern: URLPattern, role_clients: dict[str, Client], settings: Any
) -> None:
    settings.OPS_ENDPOINTS_PUBLIC = False  # production's rule for /metrics, schema and docs
    access = declared_access(route, pattern.callback)
    assert access is not None, (
        f"{route!r} declares no role: give it HasRole(...)/role_required(...), AllowAny, or an "
        "entry in DECLARED with the reason"
    )
    path = sample_path(route)
    assert resolve(path).func is pattern.callback, f"{path} does not resolve to {route}"

    leaks = []
    for role_name in ROLES:
        for method in ("GET", "POST"):
            if access.allows(role_name, method):
                continue
            response = role_clients[role_name].generic(method, path)
            # 405 before the role check leaks nothing; each refused role must see a refusal.
            if not _denied(response) and response.status_code != 405:
                leaks.append(f"{role_name} {method} {path} -> {response.status_code}")

    assert not leaks, leaks


def test_an_endpoint_without_a_declared_role_is_reported() -> None:
    from rest_framework.views import APIView

    class Undeclared(APIView):
        pass

    def page(request: Any) -> None:
        return None

    assert declared_access("api/new/", Undeclared.as_view()) is None
    assert declared_access("new/", page) is None
    assert declared_access("", page) == Access(PUBLIC)
