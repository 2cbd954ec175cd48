"""Websocket paths no app serves are refused cleanly at the handshake, never a 500."""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from config.asgi import application


def _connect(path: str) -> tuple[bool, int | None]:
    async def go() -> tuple[bool, int | None]:
        # The whole production stack: origin check, session and token sign-in, the router.
        communicator = WebsocketCommunicator(
            application, path, headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")]
        )
        accepted, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return accepted, code

    return async_to_sync(go)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("memory_channel_layer")
@pytest.mark.parametrize("path", ["/ws/nothing/here/", "/", "/ws/support/chat/not-a-uuid/"])
def test_an_unknown_websocket_path_is_closed_without_an_error(path, caplog):
    with caplog.at_level(logging.ERROR):
        accepted, code = _connect(path)

    assert (accepted, code) == (False, 4404)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
