"""The agents' console websocket: it learns of visits and colleagues as they come and go, and a
refused or malformed action gets an error while the console stays open."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from apps.accounts.services import user_create
from apps.support import selectors, services
from apps.support.consumers import MAX_FRAME_CHARS
from apps.support.models import Conversation, Message

from .helpers import conversation_asked, support_agent_create
from .sockets import console_socket, consumer_test, customer_socket, is_error, receive_until


# -- the console sees a visit from the customer's first message on ---------------------------
@consumer_test
def test_the_console_sees_a_visit_from_the_customers_first_message_on(kb, agent):
    async_to_sync(_console_sees_a_visit_from_the_first_message_on)(kb, agent)


async def _console_sees_a_visit_from_the_first_message_on(kb: Any, agent: Any) -> None:
    console = console_socket(agent)
    await console.connect()
    await receive_until(console, lambda e: e["type"] == "queue")
    conversation = await database_sync_to_async(services.conversation_start)(kb_id=kb.pk)
    quiet = await console.receive_nothing(timeout=1)
    customer = customer_socket(conversation.token)
    await customer.connect()
    await customer.receive_json_from()

    await customer.send_json_to(
        {"type": "message", "text": "How long does card delivery take?", "client_id": "c1"}
    )
    item = await receive_until(
        console,
        lambda e: e["type"] == "queue_item" and e["conversation"]["id"] == conversation.pk,
    )
    await receive_until(
        customer, lambda e: e["type"] == "message" and e["message"]["sender"] == "bot"
    )
    await customer.disconnect()
    await console.disconnect()

    assert quiet, "the console was told about a visit where the customer wrote nothing"
    assert item["conversation"]["status"] == Conversation.Status.BOT
    assert item["conversation"]["last_message"] == "How long does card delivery take?"


# -- consoles follow agents coming and going ------------------------------------------------
@consumer_test
def test_a_console_learns_of_a_colleague_who_comes_online_later(kb, agent):
    colleague = support_agent_create()

    joined, left, asked = async_to_sync(_colleague_comes_and_goes)(agent, colleague)

    assert colleague.pk in {a["id"] for a in joined["agents"]}
    assert colleague.pk not in {a["id"] for a in left["agents"]}
    assert {a["id"] for a in asked["agents"]} == {agent.pk}


async def _colleague_comes_and_goes(agent: Any, colleague: Any) -> tuple[Any, Any, Any]:
    console = console_socket(agent)
    await console.connect()
    first = await receive_until(console, lambda e: e["type"] == "queue")
    assert [a["id"] for a in first["agents"]] == [agent.pk]
    other = console_socket(colleague)
    await other.connect()
    joined = await receive_until(
        console,
        lambda e: e["type"] == "agents" and colleague.pk in {a["id"] for a in e["agents"]},
    )
    await other.disconnect()
    left = await receive_until(
        console,
        lambda e: e["type"] == "agents" and colleague.pk not in {a["id"] for a in e["agents"]},
    )
    # The console asks when the "Transfer to" control is opened.
    await console.send_json_to({"type": "agents"})
    asked = await receive_until(console, lambda e: e["type"] == "agents")
    await console.disconnect()
    return joined, left, asked


# -- refused actions: an error naming what was refused, and nothing changes ----------------
@consumer_test
def test_a_colleague_closing_over_the_websocket_gets_an_error_and_nothing_changes(kb, agent):
    colleague = support_agent_create()
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    error, still_open = async_to_sync(_close_over_the_console)(colleague, conversation.pk)

    assert error["code"] == "forbidden"
    assert "only they or a supervisor can close it" in error["message"]
    assert still_open["type"] == "heartbeat_ok"
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.AGENT


async def _close_over_the_console(user: Any, conversation_id: int) -> tuple[Any, Any]:
    console = console_socket(user)
    await console.connect()
    await receive_until(console, lambda e: e["type"] == "queue")
    await console.send_json_to({"type": "close", "conversation_id": conversation_id})
    error = await receive_until(console, lambda e: e["type"] == "error")
    await console.send_json_to({"type": "heartbeat"})
    still_open = await receive_until(console, lambda e: e["type"] == "heartbeat_ok")
    await console.disconnect()
    return error, still_open


@consumer_test
def test_a_refused_agent_reply_names_its_client_id_so_the_console_keeps_the_text(kb, agent):
    colleague = support_agent_create()
    conversation = conversation_asked(kb, "How long does card delivery take?")
    services.conversation_take_over(conversation_id=conversation.pk, agent=colleague)

    error = async_to_sync(_reply_to_colleagues)(agent, conversation.pk)

    assert error["code"] == "not_allowed" and error["client_id"] == "r1"
    assert not Message.objects.filter(conversation=conversation, sender="agent").exists()


async def _reply_to_colleagues(agent: Any, conversation_id: int) -> Any:
    console = console_socket(agent)
    await console.connect()
    await receive_until(console, lambda e: e["type"] == "queue")
    await console.send_json_to(
        {
            "type": "message",
            "conversation_id": conversation_id,
            "text": "Let me help",
            "client_id": "r1",
        }
    )
    error = await receive_until(console, is_error)
    await console.disconnect()
    return error


# -- console actions on a deleted conversation: an error, and the console stays open -------
ACTIONS = [
    {"type": "note", "text": "VIP customer, be quick"},
    {"type": "take_over"},
    {"type": "message", "text": "Let me check.", "client_id": "a1"},
    {"type": "transfer", "to_agent_id": None},
    {"type": "close"},
    {"type": "faq_draft"},
    {"type": "open"},
]


@consumer_test
@pytest.mark.parametrize("action", ACTIONS, ids=[a["type"] for a in ACTIONS])
def test_an_action_on_a_deleted_conversation_is_an_error_not_a_crash(kb, agent, action):
    gone = conversation_asked(kb, "My card was swallowed by an ATM")
    other = conversation_asked(kb, "Where is my new card?")
    gone_id = gone.pk
    Conversation.objects.filter(pk=gone_id).delete()

    error, note_after = async_to_sync(_act_then_note)(
        agent, {**action, "conversation_id": gone_id}, other.pk
    )

    assert error["code"] == "not_found"
    assert error["conversation_id"] == gone_id
    assert "no longer exists" in error["message"]
    assert note_after["message"]["text"] == "Still here"
    assert not Message.objects.filter(conversation_id=gone_id).exists()


async def _act_then_note(agent: Any, action: dict[str, Any], other_id: int) -> tuple[Any, Any]:
    console = console_socket(agent)
    await console.connect()
    await receive_until(console, lambda e: e["type"] == "queue")
    await console.send_json_to(action)
    error = await receive_until(console, lambda e: e["type"] == "error")
    # The same connection still works: open another conversation and write a note in it.
    await console.send_json_to({"type": "open", "conversation_id": other_id})
    await receive_until(console, lambda e: e["type"] == "transcript")
    await console.send_json_to({"type": "note", "text": "Still here"})
    note_after = await receive_until(
        console, lambda e: e["type"] == "message" and e["message"]["sender"] == "note"
    )
    await console.disconnect()
    return error, note_after


@consumer_test
def test_a_note_on_the_open_conversation_deleted_meanwhile_is_an_error(kb, agent):
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")

    error, still_open = async_to_sync(_note_after_delete)(agent, conversation.pk)

    assert error["code"] == "not_found"
    assert still_open["type"] == "heartbeat_ok"


async def _note_after_delete(agent: Any, conversation_id: int) -> tuple[Any, Any]:
    console = console_socket(agent)
    await console.connect()
    await receive_until(console, lambda e: e["type"] == "queue")
    await console.send_json_to({"type": "open", "conversation_id": conversation_id})
    await receive_until(console, lambda e: e["type"] == "transcript")
    await database_sync_to_async(lambda: Conversation.objects.filter(pk=conversation_id).delete())()
    await console.send_json_to({"type": "note", "text": "Customer called about this too"})
    error = await receive_until(console, lambda e: e["type"] == "error")
    await console.send_json_to({"type": "heartbeat"})
    still_open = await receive_until(console, lambda e: e["type"] == "heartbeat_ok")
    await console.disconnect()
    return error, still_open


# -- malformed frames are answered, never fatal (one shared guard with the customer's chat) --
@consumer_test
def test_the_console_survives_malformed_frames_too(kb, agent):
    conversation = conversation_asked(kb, "How long does card delivery take?")

    errors, note = async_to_sync(_console_malformed)(agent, conversation.pk)

    assert [e["code"] for e in errors] == ["invalid", "invalid", "too_large", "invalid"]
    assert note["message"]["text"] == "Still here"


async def _console_malformed(agent: Any, conversation_id: int) -> tuple[list[Any], Any]:
    console = console_socket(agent)
    await console.connect()
    await receive_until(console, lambda e: e["type"] == "queue")
    errors = []
    for frame in (
        {"text": "not json {"},
        {"bytes": b"\xff\xfe"},
        {"text": json.dumps({"type": "note", "text": "z" * MAX_FRAME_CHARS})},
        {"text": '{"type": "flag", "message_id": 1e400, "flag": "incorrect"}'},
    ):
        await console.send_input({"type": "websocket.receive", **frame})
        errors.append(await receive_until(console, is_error))
    await console.send_json_to({"type": "open", "conversation_id": conversation_id})
    await receive_until(console, lambda e: e["type"] == "transcript")
    await console.send_json_to({"type": "note", "text": "Still here"})
    note = await receive_until(
        console, lambda e: e["type"] == "message" and e["message"]["sender"] == "note"
    )
    await console.disconnect()
    return errors, note


def test_the_queue_names_a_signed_in_customer_by_name_and_email(kb):
    shopper = user_create(username="robin", password="robin-pass-123", email="robin@example.com")
    shopper.first_name, shopper.last_name = "Robin", "Ash"
    shopper.save(update_fields=["first_name", "last_name"])
    signed_in = services.conversation_start(kb_id=kb.pk, customer=shopper)
    anonymous = services.conversation_start(kb_id=kb.pk)

    assert selectors.conversation_summary(signed_in)["customer"] == "Robin Ash (robin@example.com)"
    assert selectors.conversation_summary(anonymous)["customer"] == f"Visitor {anonymous.pk}"
