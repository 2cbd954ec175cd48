"""The client's address, as every rate limit and allow-list in the project reads it.

X-Forwarded-For is trusted only as far as `TRUSTED_PROXY_COUNT` proxies of our own append to it:
with 0 (the default) it is ignored and the socket's address counts, so a client cannot make up
a new address per request. With N, the N-th address from the right is the one our outermost
proxy saw; anything further left was written by the client. DRF's throttles use the same rule
through `ClientIpAnonThrottle` (and `NUM_PROXIES` follows the setting for any other DRF lookup).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle

from apps.accounts.rate_limit import AtomicRateThrottle


def client_ip(request: Any) -> str:
    """The address a request came from (Django or DRF request), by the trusted-proxy rule."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = int(settings.TRUSTED_PROXY_COUNT)
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    return hops[-min(proxies, len(hops))]


class ClientIpAnonThrottle(AtomicRateThrottle, AnonRateThrottle):
    """AnonRateThrottle keyed by `client_ip`, its window taken atomically
    (apps.accounts.rate_limit): the base of the project's anonymous throttles."""

    def get_ident(self, request: Any) -> str:
        return client_ip(request)
