from __future__ import annotations

from .models import User


def user_get_by_token(key: str) -> User | None:
    """The active user an API token belongs to, or None for an unknown key or inactive user."""
    if "\x00" in key:
        return None  # no key holds a NUL, and PostgreSQL refuses one even in a lookup
    return User.objects.filter(auth_token__key=key, is_active=True).first()
