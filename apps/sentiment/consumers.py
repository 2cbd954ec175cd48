"""The dashboard's live feed: `ws/sentiment/feed/` relays newly scored texts and alerts.

Analysts only (session sign-in, or `?token=<API token>` through accounts' TokenAuthMiddleware);
anyone else is closed with 4403 before the handshake completes. Every analyst gets every scored
text and the page applies its own filters. Alert events follow the pages' rule (selectors.
alert_list): an analyst hears only about alerts of their own rules, staff and superusers about
all, through a per-owner group or the all-alerts group joined at connect. Events (see
realtime.py):

    {"type": "documents", "documents": [{id, url, text, published_at, published, source,
                                          entities, topics, label, confidence}, ...]}
    {"type": "alert", "alert": {id, url, created, subject, reason, status, status_label,
                                acknowledge_url, resolve_url}}
"""

from __future__ import annotations

from typing import Any

from apps.accounts.face import Role, RoleCheckedConsumer

from . import selectors
from .realtime import ALERTS_ALL_GROUP, FEED_GROUP, alerts_owner_group

NOT_ALLOWED = 4403


class FeedConsumer(RoleCheckedConsumer):
    required_role = Role.ANALYST

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not await self.role_held_at_connect():
            await self.close(code=NOT_ALLOWED)
            return
        alerts_group = (
            ALERTS_ALL_GROUP if selectors.alerts_all_visible(user) else alerts_owner_group(user.pk)
        )
        self.groups_joined = [FEED_GROUP, alerts_group]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def feed_event(self, event: dict[str, Any]) -> None:
        # An analyst whose role is removed stops hearing (checked at most every 30 s).
        if await self.role_still_held_for_push():
            await self.send_json(event["payload"])
