"""The Redis channel layer as settings build it: a websocket waits quietly for minutes.

channels-redis waits for a message with BZPOPMIN for 5 s at a time; redis-py 8 gives every
connection a 5 s read timeout by default, so each quiet wait ended in TimeoutError and every
websocket (chat, console, dashboards) was dropped and reconnected every few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.conftest import REDIS_URL, require_services

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

QUIET_RECEIVE = textwrap.dedent(
    """
    import asyncio, os, time
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    django.setup()
    from channels.layers import get_channel_layer

    async def main():
        layer = get_channel_layer()
        channel = await layer.new_channel()

        async def later():
            await asyncio.sleep(8)
            await layer.send(channel, {"type": "chat.event", "n": 1})

        sender = asyncio.ensure_future(later())
        started = time.monotonic()
        try:
            message = await layer.receive(channel)
            print("GOT", message["n"], round(time.monotonic() - started))
        except Exception as exc:
            print("FAILED", type(exc).__name__, exc)
        await sender

    asyncio.run(main())
    """
)


def test_a_quiet_channel_waits_past_the_redis_read_timeout(tmp_path):
    require_services()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update({"REDIS_URL": REDIS_URL, "DATA_DIR": str(tmp_path)})

    result = subprocess.run(
        [sys.executable, "-c", QUIET_RECEIVE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "GOT 1" in result.stdout, result.stdout + result.stderr
