"""Live training progress for the run page: joins the run's group and relays its updates."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from apps.accounts.face import Role, RoleCheckedConsumer

from .realtime import training_run_group
from .selectors import training_run_payload


class TrainingRunConsumer(RoleCheckedConsumer):
    """`ws/mlops/runs/<id>/`: ML admins (session, or `?token=` API token) get run updates."""

    required_role = Role.ML_ADMIN

    async def connect(self) -> None:
        if not await self.role_held_at_connect():
            await self.close(code=4403)
            return
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        self.group = training_run_group(self.run_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # The current state first, so a page that connects mid-run is complete at once.
        snapshot = await database_sync_to_async(training_run_payload)(self.run_id)
        if snapshot is None:
            await self.send_json({"error": "no such run"})
            await self.close(code=4404)
            return
        await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def run_update(self, event: dict[str, Any]) -> None:
        if await self.role_still_held_for_push():
            await self.send_json(event["payload"])
