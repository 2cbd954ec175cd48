"""Websocket sign-in by API token, for clients that have no session cookie.

`TokenAuthMiddleware` sits inside Channels' `AuthMiddlewareStack`: when the session did not sign
the connection in and the URL carries `?token=<API token>`, the token's active user becomes
`scope["user"]`. Every consumer then checks roles on `scope["user"]` the same way, whichever way
the client signed in. An unknown or inactive token leaves the connection anonymous, so the
consumer refuses it like any other stranger.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from .selectors import user_get_by_token


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
