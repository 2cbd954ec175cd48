from typing import Any

from django.http import HttpRequest

from .models import Role
from .roles import user_has_role


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {"user_roles": {role.value: user_has_role(user, role.value) for role in Role}}
