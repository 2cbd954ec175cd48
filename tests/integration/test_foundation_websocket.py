"""A real ASGI server (daphne) and a websocket client, with updates through channels-redis.

The update is broadcast from a different process than the server, so it can only arrive
through the Redis channel layer.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

Stack = Any  # the fixture type from tests/integration/conftest.py (not a package)

pytestmark = pytest.mark.integration


def _shell(stack: Stack, code: str) -> str:
    result = stack.manage("shell", "-c", code, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


SETUP = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from rest_framework.authtoken.models import Token
from apps.accounts.models import User
from apps.mlops.models import TrainingRun
user, _ = User.objects.get_or_create(username="ws-mladmin")
user.groups.add(Group.objects.get_or_create(name="ml_admin")[0])
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
run = TrainingRun.objects.create(model_name="sentiment")
token = Token.objects.get_or_create(user=user)[0].key
print(run.pk, session.session_key, token)
"""


async def _round_trip(
    url: str, origin: str, headers: dict[str, str], stack: Stack, run_id: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    async with websockets.connect(url, origin=origin, additional_headers=headers) as ws:
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 15))
        await asyncio.to_thread(
            _shell,
            stack,
            "from apps.mlops.realtime import training_run_broadcast\n"
            f"training_run_broadcast(run_id={run_id}, payload={{'status': 'running', "
            "'progress': {'step': 7, 'total_steps': 10}})\nprint('sent')",
        )
        update = json.loads(await asyncio.wait_for(ws.recv(), 15))
    return snapshot, update


def test_websocket_round_trip_through_channels_redis(running: Stack) -> None:
    base = running.start_web()
    run_id, session_key, token = _shell(running, SETUP).split()
    ws_base = base.replace("http://", "ws://")

    snapshot, update = asyncio.run(
        _round_trip(
            f"{ws_base}/ws/mlops/runs/{run_id}/",
            base,
            {"Cookie": f"sessionid={session_key}"},
            running,
            int(run_id),
        )
    )
    by_token = asyncio.run(
        _round_trip(
            f"{ws_base}/ws/mlops/runs/{run_id}/?token={token}", base, {}, running, int(run_id)
        )
    )

    assert snapshot["id"] == int(run_id) and snapshot["status"] == "queued"
    assert update == {"status": "running", "progress": {"step": 7, "total_steps": 10}}
    assert by_token[1]["progress"]["step"] == 7


def test_websocket_refuses_anonymous_clients(running: Stack) -> None:
    base = running.start_web()
    ws_base = base.replace("http://", "ws://")

    async def attempt() -> str:
        try:
            async with websockets.connect(f"{ws_base}/ws/mlops/runs/1/", origin=base) as ws:
                await asyncio.wait_for(ws.recv(), 10)
        except websockets.exceptions.ConnectionClosed as exc:
            return f"closed {exc.rcvd.code if exc.rcvd else ''}"
        except websockets.exceptions.InvalidStatus as exc:
            return f"rejected {exc.response.status_code}"
        return "accepted"

    assert asyncio.run(attempt()) != "accepted"
