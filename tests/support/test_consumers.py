from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from apps.support import services
from apps.support.consumers import MAX_FRAME_CHARS
from apps.support.models import Conversation, Message
from apps.support.routing import websocket_urlpatterns

from .sockets import consumer_test, customer_socket, is_error, receive_until

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

    monkeypatch.setattr(services.replies, "bot_reply_or_handoff", slow_answer)
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


# -- the customer's chat: malformed frames and server errors are answered, never fatal --------
async def _frames_then_message(
    comm: WebsocketCommunicator, frames: list[dict[str, Any]], text: str, client_id: str
) -> tuple[list[Any], Any]:
    """Send each raw frame, collect the error each one gets, then send a real message: the
    same connection must still store and acknowledge it."""
    errors = []
    for frame in frames:
        await comm.send_input({"type": "websocket.receive", **frame})
        errors.append(await receive_until(comm, is_error))
    await comm.send_json_to({"type": "message", "text": text, "client_id": client_id})
    ack = await receive_until(comm, lambda e: e["type"] == "ack")
    return errors, ack


MALFORMED = [
    ({"text": "hello, not json"}, "invalid"),
    ({"text": ""}, "invalid"),
    ({"bytes": b"\x00\x01binary"}, "invalid"),
    ({"text": json.dumps([1, 2, 3])}, "invalid"),
    ({"text": json.dumps({"type": "message", "text": "x" * MAX_FRAME_CHARS})}, "too_large"),
    ({"text": json.dumps({"type": "dance"})}, "invalid"),
    ({"text": json.dumps({"type": "rate", "message_id": "abc", "rating": "up"})}, "invalid"),
    ({"text": '{"type": "rate", "message_id": 1e400, "rating": "up"}'}, "invalid"),
    ({"text": json.dumps({"type": "message", "text": ["a list"]})}, "invalid"),
    ({"text": json.dumps({"type": "message", "text": "y" * 2001})}, "invalid"),
    ({"text": "[" * 30000 + "]" * 30000}, "invalid"),
]


@consumer_test
def test_malformed_customer_frames_get_an_error_and_the_chat_goes_on(kb):
    conversation = services.conversation_start(kb_id=kb.pk)

    errors, ack = async_to_sync(_malformed_frames)(conversation.token)

    assert [e["code"] for e in errors] == [code for _, code in MALFORMED]
    assert all(e["message"] for e in errors)
    assert "too large" in errors[4]["message"]
    assert "Unknown message type" in errors[5]["message"]
    assert "too long" in errors[9]["message"]
    stored = Message.objects.get(pk=ack["id"])
    assert stored.text == "Still there?" and stored.sender == "customer"


async def _malformed_frames(token: Any) -> tuple[list[Any], Any]:
    comm = customer_socket(token)
    connected, _ = await comm.connect()
    assert connected
    await comm.receive_json_from()
    try:
        return await _frames_then_message(
            comm, [frame for frame, _ in MALFORMED], "Still there?", "after-bad"
        )
    finally:
        await comm.disconnect()


@consumer_test
def test_a_server_error_is_an_error_frame_and_nothing_stored_is_lost(kb, monkeypatch):
    conversation = services.conversation_start(kb_id=kb.pk)

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("database went away")

    # Asking for a human fails server-side; so does the bot's answer to the first message.
    monkeypatch.setattr(services.handoff, "conversation_handoff", broken)
    monkeypatch.setattr(services.replies, "bot_reply_or_handoff", broken)

    human_error, first_ack, answer_error = async_to_sync(_server_errors)(conversation.token)

    assert human_error["code"] == "server_error" and "try again" in human_error["message"]
    assert answer_error["code"] == "server_error"
    # The question was stored before the answer failed, and the connection still took the next.
    texts = list(
        Message.objects.filter(conversation=conversation, sender="customer").values_list(
            "text", flat=True
        )
    )
    assert texts == ["Where is my card?", "Hello again"]
    assert first_ack["client_id"] == "q1"


async def _server_errors(token: Any) -> tuple[Any, Any, Any]:
    comm = customer_socket(token)
    await comm.connect()
    await comm.receive_json_from()
    try:
        await comm.send_json_to({"type": "human"})
        human_error = await receive_until(comm, is_error)
        await comm.send_json_to({"type": "message", "text": "Where is my card?", "client_id": "q1"})
        first_ack = await receive_until(comm, lambda e: e["type"] == "ack")
        answer_error = await receive_until(comm, is_error)
        await comm.send_json_to({"type": "message", "text": "Hello again", "client_id": "q2"})
        await receive_until(comm, lambda e: e["type"] == "ack")
    finally:
        await comm.disconnect()
    return human_error, first_ack, answer_error


@consumer_test
def test_a_refused_message_names_its_client_id(kb):
    conversation = services.conversation_start(kb_id=kb.pk)

    error = async_to_sync(_refused)(conversation.token)

    assert error["code"] == "invalid" and "empty" in error["message"]
    assert error["client_id"] == "blank-1"


async def _refused(token: Any) -> Any:
    comm = customer_socket(token)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_json_to({"type": "message", "text": "   ", "client_id": "blank-1"})
    error = await receive_until(comm, is_error)
    await comm.disconnect()
    return error


@consumer_test
def test_a_message_to_a_conversation_deleted_meanwhile_asks_for_a_new_one(kb):
    conversation = services.conversation_start(kb_id=kb.pk)

    error = async_to_sync(_deleted_under_customer)(conversation)

    # "closed": the widget starts a new conversation and sends the message there.
    assert error["code"] == "closed" and "no longer exists" in error["message"]
    assert error["client_id"] == "late-1"


async def _deleted_under_customer(conversation: Conversation) -> Any:
    comm = customer_socket(conversation.token)
    await comm.connect()
    await comm.receive_json_from()
    await database_sync_to_async(Conversation.objects.filter(pk=conversation.pk).delete)()
    await comm.send_json_to({"type": "message", "text": "Anyone?", "client_id": "late-1"})
    error = await receive_until(comm, is_error)
    await comm.disconnect()
    return error


# -- half an emoji (a lone UTF-16 surrogate) is stored, not "could not be understood" ------
@consumer_test
def test_a_chat_message_with_half_an_emoji_is_stored(kb):
    conversation = services.conversation_start(kb_id=kb.pk)
    frame = '{"type": "message", "text": "card \\ud83d arrived? \\ud83d\\ude00", "client_id": "u1"}'

    ack = async_to_sync(_raw_message)(conversation.token, frame)

    assert ack["type"] == "ack", ack
    assert Message.objects.get(pk=ack["id"]).text == "card \ufffd arrived? \U0001f600"


async def _raw_message(token: Any, frame: str) -> Any:
    comm = customer_socket(token)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_to(text_data=frame)
    reply = await receive_until(comm, lambda e: e["type"] in ("ack", "error"))
    await comm.disconnect()
    return reply
