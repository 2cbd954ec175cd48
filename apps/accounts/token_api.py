"""POST /api/accounts/token/: an API token for a user name and password, throttled like sign-in."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from .login_throttle import LOCKED_MESSAGE, login_locked


class LoginFailureThrottle(BaseThrottle):
    """Refuses the request while its address or account name is locked (see login_throttle)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        data = request.data
        username = data.get("username", "") if hasattr(data, "get") else ""
        return not login_locked(request=request, username=str(username or ""))

    def wait(self) -> float:
        # An upper bound: the lock ends at most this long after the failure that set it.
        return float(settings.LOGIN_LOCKOUT_SECONDS)


class TokenObtainView(ObtainAuthToken):
    permission_classes = [AllowAny]
    throttle_classes = [LoginFailureThrottle]

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        raise Throttled(wait=wait, detail=LOCKED_MESSAGE)
