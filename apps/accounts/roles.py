"""Role checks shared by views, API permissions and consumers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import user_passes_test
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from .models import Role


def user_has_role(user: Any, role: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or (role == Role.ML_ADMIN and user.is_staff):
        return True
    cache = getattr(user, "_role_cache", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._role_cache = cache
    return role in cache


def role_required(role: str):  # type: ignore[no-untyped-def]
    """View decorator: sign-in page for anonymous users, 403 for users without the role.

    The decorated view carries `required_roles` (every role its decorators ask for), which the
    role x endpoint test (tests/config/test_permissions.py) reads.
    """

    def check(user: Any) -> bool:
        if not user.is_authenticated:
            return False
        if not user_has_role(user, role):
            raise PermissionDenied(f"This page needs the {Role(role).label} role.")
        return True

    def decorator(view: Any) -> Any:
        guarded = user_passes_test(check)(view)
        guarded.required_roles = getattr(view, "required_roles", frozenset()) | {role}
        return guarded

    return decorator


def HasRole(role: str) -> type[BasePermission]:  # noqa: N802 - reads like a class in views
    """DRF permission class factory: `permission_classes = [HasRole(Role.ANALYST)]`."""

    class _HasRole(BasePermission):
        message = f"This endpoint needs the {Role(role).label} role."
        required_role = role

        def has_permission(self, request: Any, view: Any) -> bool:
            return user_has_role(request.user, role)

    _HasRole.__name__ = f"HasRole_{role}"
    return _HasRole
