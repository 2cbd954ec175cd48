"""Which addresses a fetch of a user-given URL may reach (the policy of apps/core/outbound.py).

Public addresses only; OUTBOUND_ALLOW_HOSTS / OUTBOUND_ALLOW_NETWORKS let chosen internal ones
through on premise; cloud metadata addresses never pass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Refused even inside an allowed network: instance credentials live behind these.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped ::ffff:a.b.c.d, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _internal(address: IPAddress) -> bool:
    return (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.teredo is not None)
    )


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(str(n).strip(), strict=False)
        for n in getattr(settings, "OUTBOUND_ALLOW_NETWORKS", [])
        if str(n).strip()
    ]


def host_allowed(host: str, extra: Iterable[str] = ()) -> bool:
    """Whether `host` is named by OUTBOUND_ALLOW_HOSTS (or `extra`); '.example.com' names a
    domain and its sub-domains."""
    host = host.lower().rstrip(".")
    for entry in [*getattr(settings, "OUTBOUND_ALLOW_HOSTS", []), *extra]:
        entry = str(entry).strip().lower().rstrip(".")
        if not entry:
            continue
        if entry.startswith("."):
            if host == entry[1:] or host.endswith(entry):
                return True
        elif host == entry:
            return True
    return False


def address_allowed(address: IPAddress, *, host_trusted: bool = False) -> bool:
    """Whether a connection to `address` may be made: a public address, or one inside
    OUTBOUND_ALLOW_NETWORKS (or of a trusted host); never a cloud metadata address."""
    embedded = _embedded_ipv4(address)
    forms = [address] if embedded is None else [address, embedded]
    if any(a in METADATA_ADDRESSES for a in forms):
        return False
    if host_trusted:
        return True
    networks = _allowed_networks()
    if any(a in n for a in forms for n in networks if a.version == n.version):
        return True
    return not any(_internal(a) for a in forms)
