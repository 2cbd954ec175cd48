"""The chat is rate limited, on the REST API and the websocket alike, and asking the bot has a
budget of its own."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from apps.support import services
from apps.support.models import Message

from .sockets import consumer_test, customer_socket, is_error, receive_until


def test_a_customer_flooding_the_rest_chat_is_told_to_slow_down(kb):
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text="first", client_id="c0")
    for i in range(1, services.CUSTOMER_MESSAGES_PER_MINUTE):
        services.customer_message_post(conversation_id=conversation.pk, text=f"spam {i}")
    url = f"/api/support/chat/{conversation.token}/messages/"

    flood = APIClient().post(url, {"text": "one more", "client_id": "x"}, format="json")
    resend = APIClient().post(url, {"text": "first", "client_id": "c0"}, format="json")

    assert flood.status_code == 429 and "too quickly" in flood.json()["detail"]
    assert resend.status_code == 200 and resend.json()["duplicate"] is True
    assert not Message.objects.filter(conversation=conversation, text="one more").exists()


@consumer_test
def test_a_customer_flooding_the_websocket_is_told_which_message_was_not_sent(kb):
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text="first", client_id="c0")
    for i in range(1, services.CUSTOMER_MESSAGES_PER_MINUTE):
        services.customer_message_post(conversation_id=conversation.pk, text=f"spam {i}")

    error, duplicate = async_to_sync(_flood)(conversation.token)

    assert error["code"] == "rate_limited" and error["client_id"] == "c-over"
    # A resend of a message already stored is still acknowledged, not refused.
    assert duplicate["type"] == "ack" and duplicate["duplicate"] is True
    assert not Message.objects.filter(conversation=conversation, client_id="c-over").exists()


async def _flood(token: Any) -> tuple[Any, Any]:
    comm = customer_socket(token)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_json_to({"type": "message", "text": "over", "client_id": "c-over"})
    error = await receive_until(comm, is_error)
    await comm.send_json_to({"type": "message", "text": "first", "client_id": "c0"})
    duplicate = await receive_until(comm, lambda e: e["type"] == "ack")
    await comm.disconnect()
    return error, duplicate


def test_asking_the_bot_does_not_spend_the_budget_for_starting_chats(kb, client):
    from django.core.cache import cache

    cache.clear()
    asked = [
        client.post("/api/support/ask/", {"question": "How do I reset my card PIN?"}).status_code
        for _ in range(31)
    ]
    started = client.post("/api/support/chat/", {}, content_type="application/json")

    assert asked[:30] == [200] * 30 and asked[30] == 429
    assert started.status_code == 201
    cache.clear()
