"""Websocket test helpers shared by the support tests: committed data, an in-memory layer."""

from __future__ import annotations

from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from apps.support.routing import websocket_urlpatterns


def consumer_test(func: Any) -> Any:
    """Websocket tests, as in test_consumers.py: committed data and an in-memory layer."""
    func = pytest.mark.django_db(transaction=True)(func)
    return pytest.mark.usefixtures("memory_channel_layer")(func)


def customer_socket(token: Any) -> WebsocketCommunicator:
    return WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/support/chat/{token}/")


def console_socket(user: Any) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/support/console/")
    comm.scope["user"] = user
    return comm


async def receive_until(comm: WebsocketCommunicator, wanted: Any, limit: int = 20) -> Any:
    for _ in range(limit):
        event = await comm.receive_json_from(timeout=5)
        if wanted(event):
            return event
    raise AssertionError("event never arrived")


def is_error(event: dict[str, Any]) -> bool:
    return event["type"] == "error"


async def frame_answer(token: Any, frame: dict[str, Any], wanted: Any) -> Any:
    """Open the customer's chat, send one frame and return the first event `wanted` accepts."""
    comm = customer_socket(token)
    await comm.connect()
    await comm.receive_json_from()  # history
    try:
        await comm.send_json_to(frame)
        return await receive_until(comm, wanted)
    finally:
        await comm.disconnect()
