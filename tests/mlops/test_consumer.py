"""The run page's websocket: ML admins get the snapshot, then every broadcast update."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from apps.mlops.models import TrainingRun
from apps.mlops.realtime import training_run_broadcast
from apps.mlops.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(run_id: int, user) -> WebsocketCommunicator:  # type: ignore[no-untyped-def]
    communicator = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ws/mlops/runs/{run_id}/"
    )
    communicator.scope["user"] = user
    return communicator


def test_ml_admin_gets_snapshot_then_broadcasts(ml_admin):
    async_to_sync(_snapshot_then_broadcast)(ml_admin)


async def _snapshot_then_broadcast(ml_admin) -> None:  # type: ignore[no-untyped-def]
    run = await sync_to_async(TrainingRun.objects.create)(model_name="test-lookup")
    communicator = _communicator(run.pk, ml_admin)

    connected, _ = await communicator.connect()
    snapshot = await communicator.receive_json_from(timeout=5)
    await sync_to_async(training_run_broadcast)(
        run_id=run.pk, payload={"status": "running", "progress": {"step": 3, "total_steps": 9}}
    )
    update = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()

    assert connected and snapshot["status"] == "queued" and snapshot["id"] == run.pk
    assert update["progress"]["step"] == 3


def test_anonymous_and_other_roles_are_refused(analyst):
    async_to_sync(_refused)(analyst)


async def _refused(analyst) -> None:  # type: ignore[no-untyped-def]
    run = await sync_to_async(TrainingRun.objects.create)(model_name="test-lookup")

    anonymous, _ = await _communicator(run.pk, AnonymousUser()).connect()
    other, _ = await _communicator(run.pk, analyst).connect()

    assert not anonymous and not other
