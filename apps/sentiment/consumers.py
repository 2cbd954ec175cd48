"""The dashboard's live feed: `ws/sentiment/feed/` relays newly scored texts and alerts.

Analysts only (session sign-in, or `?token=<API token>` through accounts' TokenAuthMiddleware);
anyone else is closed with 4403 before the handshake completes. Every analyst gets every event
and the page applies its own filters, so the server keeps no per-connection state. Events (see
realtime.py):

    {"type": "documents", "documents": [{id, url, text, published_at, published, source,
                                          entities, topics, label, confidence}, ...]}
    {"type": "alert", "alert": {id, url, created, subject, reason, status, status_label,
                                acknowledge_url, resolve_url}}
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.accounts.models import Role
from apps.accounts.roles import user_has_role

from .realtime import FEED_GROUP

NOT_ALLOWED = 4403


class FeedConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels: no stubs
    async def connect(self) -> None:
        user = self.scope.get("user")
        if not await database_sync_to_async(user_has_role)(user, Role.ANALYST):
            await self.close(code=NOT_ALLOWED)
            return
        await self.channel_layer.group_add(FEED_GROUP, self.channel_name)
        self.joined = True
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "joined", False):
            await self.channel_layer.group_discard(FEED_GROUP, self.channel_name)

    async def feed_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event["payload"])
