"""Websocket sign-in by `?token=`: the same role checks as a session, for every consumer."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from apps.accounts.models import Role
from apps.accounts.services import token_get_or_create, user_create
from apps.accounts.websocket_auth import TokenAuthMiddleware
from config.routing import websocket_urlpatterns

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("memory_channel_layer"),
]


def _connect(path: str) -> tuple[bool, int | None]:
    """Connect through the production middleware stack; (accepted, close code if refused)."""

    async def go() -> tuple[bool, int | None]:
        app = AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        communicator = WebsocketCommunicator(app, path)
        accepted, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return accepted, None if accepted else code

    return async_to_sync(go)()


def _user(name: str, role: Role, *, active: bool = True) -> str:
    user = user_create(username=name, password="pw-" + name, roles=[role.value])
    if not active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    return token_get_or_create(user=user)


def test_an_analyst_token_opens_the_sentiment_feed() -> None:
    token = _user("ana", Role.ANALYST)
    assert _connect(f"/ws/sentiment/feed/?token={token}") == (True, None)


def test_a_support_agent_token_opens_the_console() -> None:
    token = _user("sam", Role.SUPPORT_AGENT)
    assert _connect(f"/ws/support/console/?token={token}") == (True, None)


def test_a_token_does_not_grant_a_role_its_user_lacks() -> None:
    token = _user("sam", Role.SUPPORT_AGENT)
    assert _connect(f"/ws/sentiment/feed/?token={token}") == (False, 4403)


def test_unknown_empty_and_inactive_tokens_stay_anonymous() -> None:
    inactive = _user("gone", Role.ANALYST, active=False)
    assert _connect("/ws/sentiment/feed/?token=not-a-token") == (False, 4403)
    assert _connect("/ws/sentiment/feed/?token=") == (False, 4403)
    assert _connect("/ws/sentiment/feed/") == (False, 4403)
    assert _connect(f"/ws/sentiment/feed/?token={inactive}") == (False, 4403)
