"""What accounts offers its sibling apps: their one way in, besides `services` and `selectors`.

The other apps check roles here (`Role`, `role_required` for pages, `HasRole` for the API,
`RoleCheckedConsumer` for websockets, `user_has_role` in code), name the user model, and
throttle anonymous clients by the address every limit reads (`ClientIpAnonThrottle`). They
import nothing else of accounts (`lint-imports` holds them to it); config wires the rest.
"""

from __future__ import annotations

from .client_ip import ClientIpAnonThrottle, client_ip
from .models import Role, User
from .roles import HasRole, role_required, user_has_role
from .websocket_auth import RoleCheckedConsumer

__all__ = [
    "ClientIpAnonThrottle",
    "HasRole",
    "Role",
    "RoleCheckedConsumer",
    "User",
    "client_ip",
    "role_required",
    "user_has_role",
]
