"""Pushes training progress to pages over the channel layer."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def training_run_group(run_id: int) -> str:
    return f"training-run-{run_id}"


def training_run_broadcast(*, run_id: int, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            training_run_group(run_id), {"type": "run.update", "payload": payload}
        )
    except Exception:  # progress is best effort; the row in the database is the record
        log.debug("could not broadcast progress of run %s", run_id, exc_info=True)
