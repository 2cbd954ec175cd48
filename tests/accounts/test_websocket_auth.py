"""Websocket sign-in by `?token=`, and roles re-checked on every action while a socket is open."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from apps.accounts.models import Role, User
from apps.accounts.selectors import user_get_by_token
from apps.accounts.services import token_get_or_create, user_create
from apps.accounts.websocket_auth import TokenAuthMiddleware
from apps.sentiment.consumers import FeedConsumer
from apps.sentiment.realtime import FEED_GROUP
from apps.support.models import Conversation, Message
from config.routing import websocket_urlpatterns
from tests.support.factories import ConversationFactory
from tests.support.sockets import console_socket, receive_until

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


# -- roles are checked on every action, not only at connect ----------------------------------------
def _agent_with_conversation(name: str) -> tuple[Any, Conversation]:
    agent = user_create(username=name, password="pw-" + name, roles=[Role.SUPPORT_AGENT.value])
    return agent, ConversationFactory(status=Conversation.Status.WAITING)


async def _revoked_action_refused(agent: Any, revoke: Any, action: dict[str, Any]) -> list[Any]:
    """Connect as `agent`, revoke, send `action`; the frames and close code that came back."""
    comm = console_socket(agent)
    accepted, _ = await comm.connect(timeout=5)
    assert accepted
    await receive_until(comm, lambda e: e.get("type") == "queue")
    await database_sync_to_async(revoke)()

    await comm.send_json_to(action)

    error = await receive_until(comm, lambda e: e.get("type") == "error")
    closed = await comm.receive_output(timeout=5)
    await comm.disconnect()
    return [error, closed]


def test_an_agent_whose_role_is_removed_cannot_take_over_from_an_open_console() -> None:
    agent, conversation = _agent_with_conversation("sam")

    error, closed = async_to_sync(_revoked_action_refused)(
        agent, agent.groups.clear, {"type": "take_over", "conversation_id": conversation.pk}
    )

    assert error["code"] == "forbidden"
    assert closed == {"type": "websocket.close", "code": 4403}
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id is None
    assert conversation.status == Conversation.Status.WAITING


def test_a_deactivated_agent_cannot_add_notes_from_an_open_console() -> None:
    agent, conversation = _agent_with_conversation("dee")

    def deactivate() -> None:
        User.objects.filter(pk=agent.pk).update(is_active=False)

    error, closed = async_to_sync(_revoked_action_refused)(
        agent, deactivate, {"type": "note", "conversation_id": conversation.pk, "text": "hi"}
    )

    assert error["code"] == "forbidden" and closed["code"] == 4403
    assert not Message.objects.filter(
        conversation=conversation, sender=Message.Sender.NOTE
    ).exists()


def test_an_agent_who_keeps_the_role_keeps_working() -> None:
    agent, _ = _agent_with_conversation("kim")

    async def go() -> dict[str, Any]:
        comm = console_socket(agent)
        await comm.connect(timeout=5)
        await receive_until(comm, lambda e: e.get("type") == "queue")
        await comm.send_json_to({"type": "heartbeat"})
        answer = await receive_until(comm, lambda e: e.get("type") in ("heartbeat_ok", "error"))
        await comm.disconnect()
        return answer

    assert async_to_sync(go)()["type"] == "heartbeat_ok"


@pytest.mark.parametrize("revoke", [True, False])
def test_an_analyst_whose_role_is_removed_stops_hearing_the_feed(monkeypatch, revoke) -> None:
    analyst = user_create(username="ana", password="pw-ana", roles=[Role.ANALYST.value])
    monkeypatch.setattr(FeedConsumer, "push_recheck_seconds", 0)

    async def go() -> dict[str, Any]:
        comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/sentiment/feed/")
        comm.scope["user"] = analyst
        assert (await comm.connect(timeout=5))[0]
        if revoke:
            await database_sync_to_async(analyst.groups.clear)()
        await get_channel_layer().group_send(
            FEED_GROUP, {"type": "feed.event", "payload": {"type": "documents", "documents": []}}
        )
        first = await comm.receive_json_from(timeout=5)
        if revoke:
            assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
        await comm.disconnect()
        return first

    first = async_to_sync(go)()

    assert first["type"] == ("error" if revoke else "documents")


# A token with a NUL character (found fuzzing on PostgreSQL) is refused like any unknown token,
# instead of failing the connection with a server error.
def test_a_token_with_a_nul_character_is_refused_like_an_unknown_one() -> None:
    token = token_get_or_create(
        user=user_create(username="ana", password="pw-ana", roles=[Role.ANALYST.value])
    )

    assert _connect(f"/ws/sentiment/feed/?token={token[:20]}%00{token[21:]}")[0] is False
    assert _connect(f"/ws/sentiment/feed/?token={token}")[0] is True


def test_looking_up_a_key_with_a_nul_character_finds_nobody() -> None:
    assert user_get_by_token("\x00") is None
