"""Sign-in throttling: failed attempts counted per account name and per client address.

Every failed `authenticate()` that carries a request (login page, admin sign-in, API token)
counts once against the account name and once against the client's address (`client_ip`, so
X-Forwarded-For counts only behind trusted proxies). Once either count reaches its limit
(`LOGIN_FAILURES_PER_ACCOUNT`, `LOGIN_FAILURES_PER_IP`), further attempts are refused for the
rest of `LOGIN_LOCKOUT_SECONDS` from the first failure, before the password hasher runs: the
pages check first and answer 429, and `LoginThrottleBackend`, first in AUTHENTICATION_BACKENDS,
refuses any other path. Successful sign-ins are never counted.

The counters live in the "throttle" cache (Redis when configured, so all web processes share
them); clearing that cache lifts every lock.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

from .client_ip import client_ip

LOCKED_MESSAGE = "Too many failed sign-in attempts. Please wait a few minutes and try again."


def _cache() -> Any:
    return caches["throttle"]


def _counters(*, request: Any, username: str | None) -> list[tuple[str, int]]:
    """(cache key, limit) of each count this attempt falls under."""
    counters = [(f"login-fail:ip:{client_ip(request)}", settings.LOGIN_FAILURES_PER_IP)]
    if username:
        # Hashed: any text is a valid key, and names differing in case are one account.
        digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
        counters.append((f"login-fail:user:{digest}", settings.LOGIN_FAILURES_PER_ACCOUNT))
    return counters


def login_locked(*, request: Any, username: str | None) -> bool:
    """Whether a sign-in attempt from this request for this account name must be refused."""
    counters = _counters(request=request, username=username)
    counts = _cache().get_many([key for key, _ in counters])
    return any(counts.get(key, 0) >= limit for key, limit in counters)


def login_failure_record(*, request: Any, username: str | None) -> None:
    cache = _cache()
    for key, _ in _counters(request=request, username=username):
        # The window starts at the first failure; add() leaves a running count alone.
        cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr(): a fresh window
            cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


@receiver(user_login_failed)
def _failure_count(sender: Any, credentials: dict[str, Any], request: Any = None, **_: Any) -> None:
    if request is None:
        return  # no client to count against (a shell, a test's client.login())
    username = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username")
    login_failure_record(request=request, username=str(username or ""))


class LoginThrottleBackend:
    """First authentication backend: refuses a throttled attempt before ModelBackend hashes.

    It never signs anyone in and has no `get_user`, so sessions always name ModelBackend.
    """

    def authenticate(self, request: Any, username: str | None = None, **kwargs: Any) -> None:
        if request is None:
            return None
        name = username or kwargs.get(get_user_model().USERNAME_FIELD)
        if login_locked(request=request, username=name):
            # authenticate() stops at PermissionDenied: no later backend runs.
            raise PermissionDenied(LOCKED_MESSAGE)
        return None
