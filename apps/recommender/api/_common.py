"""What the API's views share: roles, the storefront throttle, whose request it is."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.accounts.face import ClientIpAnonThrottle, HasRole, Role, user_has_role

from .. import services

Merchandiser = HasRole(Role.MERCHANDISER)


class StorefrontThrottle(ClientIpAnonThrottle):
    # Tracker batches and page widgets of one visitor; generous, but bounded per address.
    scope = "recommender"
    rate = "600/min"


class ReadOrMerchandiser(BasePermission):
    # Declared for the role x endpoint test: reads are public, writes need the role.
    required_role = Role.MERCHANDISER
    public_methods = ("GET", "HEAD", "OPTIONS")

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in self.public_methods:
            return True
        return user_has_role(request.user, self.required_role)


def shopper_from_request(request: Request, user_param: str = "") -> services.Shopper:
    """Whose recommendations: an account (only one's own, or any for a merchandiser) or an
    anonymous visitor id (unguessable cookie value, so asking for one is harmless)."""
    user = request.user
    if user_param and user_param.isdigit():
        account = services.id_parse(user_param)
        if account is None and user_has_role(user, Role.MERCHANDISER):
            raise LookupError(f"no account has id {user_param}")  # more digits than any key
        if (
            account is not None
            and getattr(user, "is_authenticated", False)
            and (user.pk == account or user_has_role(user, Role.MERCHANDISER))
        ):
            if user.pk != account and not get_user_model().objects.filter(pk=account).exists():
                # Account 0 would even read as "nobody": the anonymous list, silently.
                raise LookupError(f"no account has id {user_param}")
            return services.Shopper(user_id=account)
        raise PermissionError("you may only ask for your own account's recommendations")
    if user_param:
        return services.Shopper(visitor_id=user_param[:64])
    if getattr(user, "is_authenticated", False):
        return services.Shopper(user_id=user.pk)
    return services.Shopper(visitor_id=services.visitor_cookie(request))
