from __future__ import annotations

from .models import User
from .roles import user_has_role


def user_get_by_token(key: str) -> User | None:
    """The active user an API token belongs to, or None for an unknown key or inactive user."""
    if "\x00" in key:
        return None  # no key holds a NUL, and PostgreSQL refuses one even in a lookup
    return User.objects.filter(auth_token__key=key, is_active=True).first()


def user_role_current(*, user_id: int | None, role: str) -> bool:
    """Whether the account holds `role` now, read afresh from the database: a role removed or an
    account deactivated since the caller loaded its user object counts."""
    if user_id is None:
        return False
    user = User.objects.filter(pk=user_id, is_active=True).first()
    return user is not None and user_has_role(user, role)
