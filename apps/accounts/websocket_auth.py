"""Websocket sign-in by API token, for clients that have no session cookie.

`TokenAuthMiddleware` sits inside Channels' `AuthMiddlewareStack`: when the session did not sign
the connection in and the URL carries `?token=<API token>`, the token's active user becomes
`scope["user"]`. Every consumer then checks roles on `scope["user"]` the same way, whichever way
the client signed in. An unknown or inactive token leaves the connection anonymous, so the
consumer refuses it like any other stranger.

`RoleCheckedConsumer` keeps checking after connect: a socket outlives the role it was opened
with (an agent whose role is removed, an account deactivated), so the role is read afresh from
the database before every action a client sends, and at most every `push_recheck_seconds`
before relaying pushed events. Once it is gone the client gets an error frame, the socket is
closed with 4403, and the action does nothing.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .models import Role
from .roles import user_has_role
from .selectors import user_get_by_token, user_role_current

ROLE_REVOKED = 4403


class TokenAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        user = scope.get("user")
        if scope.get("type") == "websocket" and not getattr(user, "is_authenticated", False):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            key = query.get("token", [""])[0]
            found = await database_sync_to_async(user_get_by_token)(key) if key else None
            if found is not None:
                scope = {**scope, "user": found}
        return await self.inner(scope, receive, send)


class RoleCheckedConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels: no stubs
    """A consumer for one role, re-checked on every action (`role_still_held`) and, at most every
    `push_recheck_seconds`, on pushed events (`role_still_held_for_push`)."""

    required_role: str
    push_recheck_seconds: float = 30.0
    _role_checked_at: float = 0.0
    _role_revoked: bool = False

    async def role_held_at_connect(self) -> bool:
        held = await database_sync_to_async(user_has_role)(
            self.scope.get("user"), self.required_role
        )
        self._role_checked_at = time.monotonic()
        return bool(held)

    async def role_still_held(self) -> bool:
        if self._role_revoked:
            return False
        user = self.scope.get("user")
        user_id = user.pk if getattr(user, "is_authenticated", False) else None
        held = await database_sync_to_async(user_role_current)(
            user_id=user_id, role=self.required_role
        )
        self._role_checked_at = time.monotonic()
        if not held:
            self._role_revoked = True
            await self.send_json(
                {
                    "type": "error",
                    "code": "forbidden",
                    "message": f"This needs the {Role(self.required_role).label} role, which "
                    "your account no longer has; the connection is closed.",
                }
            )
            await self.close(code=ROLE_REVOKED)
        return bool(held)

    async def role_still_held_for_push(self) -> bool:
        if self._role_revoked:
            return False
        if time.monotonic() - self._role_checked_at < self.push_recheck_seconds:
            return True
        return await self.role_still_held()
