from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import Role, User


@transaction.atomic
def roles_ensure() -> None:
    """Create one group per role (idempotent)."""
    for role in Role:
        Group.objects.get_or_create(name=role.value)


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    email: str = "",
    roles: list[str] | None = None,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    roles_ensure()
    user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
    user.email = email or user.email
    user.is_staff = is_staff or is_superuser
    user.is_superuser = is_superuser
    user.set_password(password)
    user.save()
    if roles:
        user.groups.set(Group.objects.filter(name__in=roles))
    return user


def token_get_or_create(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return str(token.key)
