"""Users with roles, created through the accounts service (password hashed, role groups made)."""

from __future__ import annotations

from typing import Any

import factory

from apps.accounts.models import Role, User
from apps.accounts.services import user_create


class UserFactory(factory.django.DjangoModelFactory):
    """`UserFactory(roles=[Role.ANALYST])`; the password is `<username>-pass-1234`."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.LazyAttribute(lambda u: f"{u.username}-pass-1234")
    roles: Any = factory.List([])
    is_staff = False
    is_superuser = False

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        return user_create(
            username=kwargs["username"],
            password=kwargs["password"],
            email=kwargs["email"],
            roles=[str(role) for role in kwargs["roles"]],
            is_staff=kwargs["is_staff"],
            is_superuser=kwargs["is_superuser"],
        )


class AnalystFactory(UserFactory):
    roles: Any = factory.List([Role.ANALYST])


class SupportAgentFactory(UserFactory):
    roles: Any = factory.List([Role.SUPPORT_AGENT])
