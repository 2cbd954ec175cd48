from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from apps.support import services
from apps.support.models import Conversation
from apps.support.routing import websocket_urlpatterns

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("memory_channel_layer"),
]


async def _receive_until(comm, wanted, limit=20):
    for _ in range(limit):
        event = await comm.receive_json_from(timeout=5)
        if wanted(event):
            return event
    raise AssertionError("event never arrived")


def _customer(token, after=0):
    app = URLRouter(websocket_urlpatterns)
    return WebsocketCommunicator(app, f"/ws/support/chat/{token}/?after={after}")


def _agent(user):
    app = URLRouter(websocket_urlpatterns)
    comm = WebsocketCommunicator(app, "/ws/support/console/")
    comm.scope["user"] = user
    return comm


def test_customer_gets_an_answer_and_resumes_without_duplicates(kb):
    async_to_sync(_customer_gets_an_answer_and_resumes_without_duplicates)(kb)


async def _customer_gets_an_answer_and_resumes_without_duplicates(kb):
    conversation = await database_sync_to_async(services.conversation_start)(kb_id=kb.pk)
    comm = _customer(conversation.token)
    connected, _ = await comm.connect()
    assert connected
    history = await comm.receive_json_from()
    assert history["type"] == "history" and len(history["messages"]) == 1

    await comm.send_json_to(
        {"type": "message", "text": "How long does card delivery take?", "client_id": "m1"}
    )
    ack = await _receive_until(comm, lambda e: e["type"] == "ack")
    answer = await _receive_until(
        comm, lambda e: e["type"] == "message" and e["message"]["sender"] == "bot"
    )
    await comm.disconnect()

    assert "5 to 7 working days" in answer["message"]["text"]
    again = _customer(conversation.token, after=ack["id"])
    await again.connect()
    resumed = await again.receive_json_from()
    await again.send_json_to(
        {"type": "message", "text": "How long does card delivery take?", "client_id": "m1"}
    )
    dup = await _receive_until(again, lambda e: e["type"] == "ack")
    await again.disconnect()
    assert [m["id"] for m in resumed["messages"]] == [answer["message"]["id"]]
    assert dup["duplicate"] is True


def test_unknown_conversation_is_refused():
    async_to_sync(_unknown_conversation_is_refused)()


async def _unknown_conversation_is_refused():
    import uuid

    comm = _customer(uuid.uuid4())
    connected, code = await comm.connect()
    assert not connected or code == 4404


def test_agent_takes_over_and_the_customer_sees_it(kb, agent):
    async_to_sync(_agent_takes_over_and_the_customer_sees_it)(kb, agent)


async def _agent_takes_over_and_the_customer_sees_it(kb, agent):
    conversation = await database_sync_to_async(services.conversation_start)(kb_id=kb.pk)
    # The customer has written (a greeting-only visit is not in the queue).
    await database_sync_to_async(services.customer_message_post)(
        conversation_id=conversation.pk, text="Hello?"
    )
    customer = _customer(conversation.token)
    await customer.connect()
    await customer.receive_json_from()
    console = _agent(agent)
    connected, _ = await console.connect()
    assert connected
    queue = await console.receive_json_from()
    assert any(c["id"] == conversation.pk for c in queue["conversations"])

    await console.send_json_to({"type": "open", "conversation_id": conversation.pk})
    await _receive_until(console, lambda e: e["type"] == "transcript")
    await console.send_json_to({"type": "take_over"})
    joined = await _receive_until(
        customer, lambda e: e["type"] == "message" and e["message"]["sender"] == "system"
    )
    await customer.send_json_to(
        {"type": "message", "text": "How long does card delivery take?", "client_id": "q1"}
    )
    seen = await _receive_until(
        console, lambda e: e["type"] == "message" and e["message"]["sender"] == "customer"
    )
    await console.send_json_to(
        {"type": "message", "text": "I'll check for you.", "client_id": "a1"}
    )
    reply = await _receive_until(
        customer, lambda e: e["type"] == "message" and e["message"]["sender"] != "customer"
    )

    status = await database_sync_to_async(
        lambda: Conversation.objects.get(pk=conversation.pk).status
    )()
    bot_after = await database_sync_to_async(
        lambda: conversation.messages.filter(sender="bot", reply_to__isnull=False).count()
    )()
    await customer.disconnect()
    await console.disconnect()
    assert "joined" in joined["message"]["text"]
    assert seen["message"]["text"].startswith("How long")
    assert reply["message"]["sender"] == "agent"
    assert status == "agent" and bot_after == 0


def test_non_agents_cannot_open_the_console(db):
    async_to_sync(_non_agents_cannot_open_the_console)(db)


async def _non_agents_cannot_open_the_console(db):
    from django.contrib.auth.models import AnonymousUser

    comm = _agent(AnonymousUser())
    connected, code = await comm.connect()
    assert not connected or code == 4403


def test_bad_websocket_input_gets_an_error_not_a_crash(kb):
    async_to_sync(_bad_websocket_input_gets_an_error_not_a_crash)(kb)


async def _bad_websocket_input_gets_an_error_not_a_crash(kb):
    conversation = await database_sync_to_async(services.conversation_start)(kb_id=kb.pk)
    comm = _customer(conversation.token)
    await comm.connect()
    await comm.receive_json_from()

    await comm.send_json_to({"type": "message", "text": ""})
    empty = await _receive_until(comm, lambda e: e["type"] == "error")
    await comm.send_json_to({"type": "message", "text": 42})
    wrong = await _receive_until(comm, lambda e: e["type"] == "error")
    await comm.disconnect()

    assert "empty" in empty["message"]
    assert wrong["code"] == "invalid"


def test_a_long_bot_answer_does_not_hold_up_other_customers(kb, monkeypatch):
    async_to_sync(_a_long_bot_answer_does_not_hold_up_other_customers)(kb, monkeypatch)


async def _a_long_bot_answer_does_not_hold_up_other_customers(kb, monkeypatch):
    import threading

    answering, release = threading.Event(), threading.Event()

    def slow_answer(**kwargs):  # type: ignore[no-untyped-def]
        answering.set()
        release.wait(timeout=20)  # a generation that takes a while

    monkeypatch.setattr(services, "bot_reply_or_handoff", slow_answer)
    first = await database_sync_to_async(services.conversation_start)(kb_id=kb.pk)
    second = await database_sync_to_async(services.conversation_start)(kb_id=kb.pk)
    asking = _customer(first.token)
    await asking.connect()
    await asking.receive_json_from()
    await asking.send_json_to({"type": "message", "text": "Card delivery?", "client_id": "a1"})
    await _receive_until(asking, lambda e: e["type"] == "ack")
    for _ in range(50):
        if answering.is_set():
            break
        await asyncio.sleep(0.1)

    other = _customer(second.token)
    try:
        connected, _ = await other.connect(timeout=5)
        history = await other.receive_json_from(timeout=5)
    finally:
        release.set()
        await other.disconnect()
        await asking.disconnect()

    # While the first customer's answer is still being written, the second gets their chat.
    assert answering.is_set() and connected and history["type"] == "history"
