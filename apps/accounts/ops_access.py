"""Who may read the operations endpoints: /metrics, /api/schema/ and /api/docs/.

Open while `OPS_ENDPOINTS_PUBLIC` is on (development's default). Otherwise (production) a
request gets in when its client address (`client_ip`) lies in `METRICS_ALLOW_NETWORKS` (a
Prometheus scraper) or its user holds the ML admin role (staff and superusers do). Anyone
else gets 403; an anonymous browser on the docs is sent to the sign-in page first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission

from .client_ip import client_ip
from .models import Role
from .roles import user_has_role

OPS_ROLE = Role.ML_ADMIN


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(
        ip in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOW_NETWORKS
    )


def ops_access_allowed(request: Any) -> bool:
    if settings.OPS_ENDPOINTS_PUBLIC:
        return True
    return _address_allowed(client_ip(request)) or user_has_role(request.user, OPS_ROLE)


class OpsAccess(BasePermission):
    """DRF permission of the schema and docs views (session or API token sign-in)."""

    required_role = OPS_ROLE
    message = "The API schema needs the ML admin role or an allowed address."

    def has_permission(self, request: Any, view: Any) -> bool:
        return ops_access_allowed(request)


def ops_access_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For plain Django views (/metrics): 403 unless `ops_access_allowed`."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if ops_access_allowed(request):
            return view(request, *args, **kwargs)
        return HttpResponseForbidden(
            "Metrics need the ML admin role or an address in METRICS_ALLOW_NETWORKS.",
            content_type="text/plain",
        )

    guarded.required_roles = frozenset({OPS_ROLE})  # type: ignore[attr-defined]
    return guarded


class SchemaView(SpectacularAPIView):
    permission_classes = [OpsAccess]


class DocsView(SpectacularSwaggerView):
    permission_classes = [OpsAccess]

    def handle_exception(self, exc: Exception) -> Any:
        # A browser page: an anonymous visitor is sent to sign in rather than shown a 403.
        if isinstance(exc, NotAuthenticated | PermissionDenied) and not getattr(
            self.request.user, "is_authenticated", False
        ):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)
