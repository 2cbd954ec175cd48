"""Audit of accounts (6), from fuzzing on PostgreSQL: a websocket token with a NUL character is
refused like any unknown token, instead of failing the connection with a server error."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from apps.accounts.models import Role
from apps.accounts.selectors import user_get_by_token
from apps.accounts.services import token_get_or_create, user_create
from apps.accounts.websocket_auth import TokenAuthMiddleware
from config.routing import websocket_urlpatterns

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("memory_channel_layer"),
]


def _connect(path: str) -> bool:
    async def go() -> bool:
        app = AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        communicator = WebsocketCommunicator(app, path)
        accepted, _code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return bool(accepted)

    return async_to_sync(go)()


def test_a_token_with_a_nul_character_is_refused_like_an_unknown_one() -> None:
    token = token_get_or_create(
        user=user_create(username="ana", password="pw-ana", roles=[Role.ANALYST.value])
    )

    assert _connect(f"/ws/sentiment/feed/?token={token[:20]}%00{token[21:]}") is False
    assert _connect(f"/ws/sentiment/feed/?token={token}") is True


def test_looking_up_a_key_with_a_nul_character_finds_nobody() -> None:
    assert user_get_by_token("\x00") is None
