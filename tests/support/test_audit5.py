"""Audit 5 of the support app: greeting-only visits in the console, closing a colleague's
conversation, customers queued with no agent online, console actions on deleted conversations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.utils import timezone
from rest_framework.test import APIClient

from apps.support import selectors, services
from apps.support.models import AgentPresence, Conversation, Message

from .sockets import console_socket as _console
from .sockets import consumer_test
from .sockets import customer_socket as _customer
from .sockets import receive_until as _receive_until


def _api(user: Any = None) -> APIClient:
    client = APIClient(raise_request_exception=False)
    if user is not None:
        client.force_authenticate(user)
    return client


def _colleague(username: str = "sam", **extra: Any) -> Any:
    from apps.accounts.services import user_create

    return user_create(
        username=username, password=f"{username}-pass-1234", roles=["support_agent"], **extra
    )


def _asked(kb: Any, text: str = "My card was swallowed by an ATM") -> Conversation:
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text=text)
    return conversation


# -- 1. a visit with only the bot's greeting is no conversation for the agents ----------------
def test_a_greeting_only_visit_is_not_in_the_console_queue_or_the_api_list(kb, agent):
    idle = services.conversation_start(kb_id=kb.pk)
    asked = _asked(kb)
    api = _api(agent)

    queue = {c["id"] for c in selectors.queue_list()}
    listed = {c["id"] for c in api.get("/api/support/conversations/").json()["results"]}
    with_bot = api.get("/api/support/conversations/?status=bot").json()["results"]
    everything = api.get("/api/support/conversations/?include_idle=true").json()["results"]
    one = api.get(f"/api/support/conversations/{idle.pk}/")

    assert asked.pk in queue and idle.pk not in queue
    assert asked.pk in listed and idle.pk not in listed
    assert [c["id"] for c in with_bot] == [asked.pk]
    assert {idle.pk, asked.pk} <= {c["id"] for c in everything}
    assert one.status_code == 200  # still readable by id


def test_include_idle_with_a_bad_value_is_a_400_naming_the_parameter(kb, agent):
    response = _api(agent).get("/api/support/conversations/?include_idle=maybe")

    assert response.status_code == 400
    assert "include_idle" in response.json()


def test_a_greeting_only_visit_does_not_count_as_a_conversation_with_the_bot(kb, agent):
    services.conversation_start(kb_id=kb.pk)
    _asked(kb)

    stats = _api(agent).get("/api/support/stats/").json()

    assert stats["with_bot"] == 1
    assert stats["conversations"] == 1


def test_a_conversation_given_to_an_agent_before_the_customer_wrote_is_listed(kb, agent):
    colleague = _colleague()
    conversation = services.conversation_start(kb_id=kb.pk)
    services.conversation_transfer(
        conversation_id=conversation.pk, agent=colleague, to_agent_id=agent.pk
    )

    queue = {c["id"]: c for c in selectors.queue_list()}

    assert queue[conversation.pk]["assigned_agent_id"] == agent.pk


@consumer_test
def test_the_console_sees_a_visit_from_the_customers_first_message_on(kb, agent):
    async_to_sync(_console_sees_a_visit_from_the_first_message_on)(kb, agent)


async def _console_sees_a_visit_from_the_first_message_on(kb: Any, agent: Any) -> None:
    console = _console(agent)
    await console.connect()
    await _receive_until(console, lambda e: e["type"] == "queue")
    conversation = await database_sync_to_async(services.conversation_start)(kb_id=kb.pk)
    quiet = await console.receive_nothing(timeout=1)
    customer = _customer(conversation.token)
    await customer.connect()
    await customer.receive_json_from()

    await customer.send_json_to(
        {"type": "message", "text": "How long does card delivery take?", "client_id": "c1"}
    )
    item = await _receive_until(
        console,
        lambda e: e["type"] == "queue_item" and e["conversation"]["id"] == conversation.pk,
    )
    await _receive_until(
        customer, lambda e: e["type"] == "message" and e["message"]["sender"] == "bot"
    )
    await customer.disconnect()
    await console.disconnect()

    assert quiet, "the console was told about a visit where the customer wrote nothing"
    assert item["conversation"]["status"] == Conversation.Status.BOT
    assert item["conversation"]["last_message"] == "How long does card delivery take?"


# -- 2. only the assigned agent (or a supervisor) closes a conversation an agent has ----------
def test_a_colleague_cannot_close_a_conversation_an_agent_has(kb, agent):
    colleague = _colleague()
    conversation = _asked(kb)
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    response = _api(colleague).post(f"/api/support/conversations/{conversation.pk}/close/")

    assert response.status_code == 403
    assert "alex has this conversation" in response.json()["detail"]
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.AGENT
    assert conversation.closed_at is None
    assert not conversation.messages.filter(answer_kind="csat_request").exists()


def test_the_assigned_agent_and_a_supervisor_can_close_it(kb, agent):
    supervisor = _colleague("kim", is_staff=True)
    mine = _asked(kb)
    theirs = _asked(kb, "And my PIN is blocked")
    services.conversation_take_over(conversation_id=mine.pk, agent=agent)
    services.conversation_take_over(conversation_id=theirs.pk, agent=agent)

    by_owner = _api(agent).post(f"/api/support/conversations/{mine.pk}/close/")
    by_supervisor = _api(supervisor).post(f"/api/support/conversations/{theirs.pk}/close/")

    assert (by_owner.status_code, by_supervisor.status_code) == (200, 200)
    assert set(
        Conversation.objects.filter(pk__in=[mine.pk, theirs.pk]).values_list("status", flat=True)
    ) == {Conversation.Status.CLOSED}


def test_conversations_nobody_has_taken_are_closed_by_any_agent_as_before(kb, agent):
    colleague = _colleague()
    services.agent_presence_connect(agent_id=agent.pk)
    with_bot = _asked(kb)
    waiting = _asked(kb, "Can I talk to a human?")
    services.conversation_handoff(conversation_id=waiting.pk, reason="customer_asked")
    waiting.refresh_from_db()
    assert waiting.assigned_agent_id == agent.pk  # routed to alex, not taken

    closes = [
        _api(colleague).post(f"/api/support/conversations/{c.pk}/close/").status_code
        for c in (with_bot, waiting)
    ]

    assert closes == [200, 200]


@consumer_test
def test_a_colleague_closing_over_the_websocket_gets_an_error_and_nothing_changes(kb, agent):
    colleague = _colleague()
    conversation = _asked(kb)
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    error, still_open = async_to_sync(_close_over_the_console)(colleague, conversation.pk)

    assert error["code"] == "forbidden"
    assert "only they or a supervisor can close it" in error["message"]
    assert still_open["type"] == "heartbeat_ok"
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.AGENT


async def _close_over_the_console(user: Any, conversation_id: int) -> tuple[Any, Any]:
    console = _console(user)
    await console.connect()
    await _receive_until(console, lambda e: e["type"] == "queue")
    await console.send_json_to({"type": "close", "conversation_id": conversation_id})
    error = await _receive_until(console, lambda e: e["type"] == "error")
    await console.send_json_to({"type": "heartbeat"})
    still_open = await _receive_until(console, lambda e: e["type"] == "heartbeat_ok")
    await console.disconnect()
    return error, still_open


# -- 3. with no agent online the customer is told that they are queued ------------------------
def test_with_no_agent_online_the_customer_is_told_they_are_queued(kb):
    customer = _api()
    started = customer.post("/api/support/chat/", {}, format="json").json()

    asked = customer.post(f"/api/support/chat/{started['token']}/human/")
    transcript = customer.get(f"/api/support/chat/{started['token']}/messages/").json()

    assert asked.json()["ok"] is True
    last = transcript[-1]
    assert last["sender"] == Message.Sender.SYSTEM
    assert last["text"] == services.NO_AGENT_ONLINE_TEXT
    assert last["answer_kind"] == "no_agent"
    assert "No agent is online right now" in last["text"]
    assert transcript[-2]["answer_kind"] == "handoff"  # told after the bot's handoff message


def test_with_an_agent_online_there_is_no_such_notice(kb, agent):
    services.agent_presence_connect(agent_id=agent.pk)
    conversation = _asked(kb)

    services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")

    assert not conversation.messages.filter(text=services.NO_AGENT_ONLINE_TEXT).exists()


def test_a_console_that_stopped_sending_heartbeats_does_not_count_as_online(kb, agent):
    AgentPresence.objects.create(
        agent=agent, connections=1, last_seen_at=timezone.now() - timedelta(minutes=10)
    )
    conversation = _asked(kb)

    services.conversation_handoff(conversation_id=conversation.pk, reason="low_confidence")

    assert conversation.messages.filter(
        sender=Message.Sender.SYSTEM, text=services.NO_AGENT_ONLINE_TEXT
    ).exists()


@consumer_test
def test_the_queued_customer_sees_the_notice_and_the_next_agent_online_gets_them(kb, agent):
    conversation = services.conversation_start(kb_id=kb.pk)

    notice, queue = async_to_sync(_queued_then_agent_connects)(conversation, agent)

    assert notice["message"]["text"] == services.NO_AGENT_ONLINE_TEXT
    mine = next(c for c in queue["conversations"] if c["id"] == conversation.pk)
    assert mine["status"] == Conversation.Status.WAITING
    assert mine["assigned_agent_id"] == agent.pk


async def _queued_then_agent_connects(conversation: Conversation, agent: Any) -> tuple[Any, Any]:
    customer = _customer(conversation.token)
    await customer.connect()
    await customer.receive_json_from()
    await customer.send_json_to({"type": "human"})
    notice = await _receive_until(
        customer, lambda e: e["type"] == "message" and e["message"]["sender"] == "system"
    )
    console = _console(agent)
    await console.connect()
    queue = await _receive_until(console, lambda e: e["type"] == "queue")
    await console.disconnect()
    await customer.disconnect()
    return notice, queue


# -- 4. console actions on a deleted conversation: an error, and the console stays open -------
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
    gone = _asked(kb)
    other = _asked(kb, "Where is my new card?")
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
    console = _console(agent)
    await console.connect()
    await _receive_until(console, lambda e: e["type"] == "queue")
    await console.send_json_to(action)
    error = await _receive_until(console, lambda e: e["type"] == "error")
    # The same connection still works: open another conversation and write a note in it.
    await console.send_json_to({"type": "open", "conversation_id": other_id})
    await _receive_until(console, lambda e: e["type"] == "transcript")
    await console.send_json_to({"type": "note", "text": "Still here"})
    note_after = await _receive_until(
        console, lambda e: e["type"] == "message" and e["message"]["sender"] == "note"
    )
    await console.disconnect()
    return error, note_after


@consumer_test
def test_a_note_on_the_open_conversation_deleted_meanwhile_is_an_error(kb, agent):
    conversation = _asked(kb)

    error, still_open = async_to_sync(_note_after_delete)(agent, conversation.pk)

    assert error["code"] == "not_found"
    assert still_open["type"] == "heartbeat_ok"


async def _note_after_delete(agent: Any, conversation_id: int) -> tuple[Any, Any]:
    console = _console(agent)
    await console.connect()
    await _receive_until(console, lambda e: e["type"] == "queue")
    await console.send_json_to({"type": "open", "conversation_id": conversation_id})
    await _receive_until(console, lambda e: e["type"] == "transcript")
    await database_sync_to_async(lambda: Conversation.objects.filter(pk=conversation_id).delete())()
    await console.send_json_to({"type": "note", "text": "Customer called about this too"})
    error = await _receive_until(console, lambda e: e["type"] == "error")
    await console.send_json_to({"type": "heartbeat"})
    still_open = await _receive_until(console, lambda e: e["type"] == "heartbeat_ok")
    await console.disconnect()
    return error, still_open


def test_a_note_on_a_conversation_that_does_not_exist_writes_nothing(kb, agent):
    with pytest.raises(Conversation.DoesNotExist):
        services.note_add(conversation_id=987654, agent=agent, text="Nobody reads this")

    assert not Message.objects.filter(conversation_id=987654).exists()


def test_a_colleague_cannot_transfer_a_conversation_an_agent_has(kb, agent):
    colleague = _colleague()
    conversation = _asked(kb)
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    url = f"/api/support/conversations/{conversation.pk}/transfer/"

    to_self = _api(colleague).post(url, {"to_agent_id": colleague.pk}, format="json")
    to_queue = _api(colleague).post(url, {"to_agent_id": None}, format="json")

    assert (to_self.status_code, to_queue.status_code) == (403, 403)
    assert "only they or a supervisor can transfer it" in to_self.json()["detail"]
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.AGENT
    assert conversation.assigned_agent_id == agent.pk
    assert not conversation.messages.filter(text__contains="transferred").exists()


def test_the_owner_and_a_supervisor_can_transfer_it(kb, agent):
    colleague = _colleague()
    supervisor = _colleague("kim", is_staff=True)
    conversation = _asked(kb)
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    url = f"/api/support/conversations/{conversation.pk}/transfer/"

    by_owner = _api(agent).post(url, {"to_agent_id": colleague.pk}, format="json")
    by_supervisor = _api(supervisor).post(url, {"to_agent_id": agent.pk}, format="json")

    assert (by_owner.status_code, by_supervisor.status_code) == (200, 200)
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == agent.pk
    assert conversation.messages.filter(text__contains="transferred").count() == 2


def test_taking_over_a_closed_conversation_says_it_is_closed(kb, agent):
    conversation = _asked(kb)
    services.conversation_close(conversation_id=conversation.pk)

    response = _api(agent).post(f"/api/support/conversations/{conversation.pk}/take-over/")

    assert response.status_code == 409
    assert response.json()["detail"] == "This conversation is closed."
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED
    assert conversation.assigned_agent_id is None


def test_a_waiting_customer_is_told_when_the_last_agent_goes_offline_once(kb, agent):
    services.agent_presence_connect(agent_id=agent.pk)
    conversation = _asked(kb)
    services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == agent.pk
    notices = conversation.messages.filter(answer_kind="no_agent")
    assert not notices.exists()

    services.agent_presence_disconnect(agent_id=agent.pk)
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id is None
    assert notices.count() == 1
    assert conversation.messages.order_by("-pk").first().text == services.NO_AGENT_ONLINE_TEXT

    services.agent_presence_connect(agent_id=agent.pk)  # back, then gone again
    services.agent_presence_disconnect(agent_id=agent.pk)
    assert notices.count() == 1


def test_a_customer_is_not_told_while_another_agent_is_online(kb, agent):
    colleague = _colleague()
    services.agent_presence_connect(agent_id=agent.pk)
    conversation = _asked(kb)
    services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")
    services.agent_presence_connect(agent_id=colleague.pk)

    services.agent_presence_disconnect(agent_id=agent.pk)

    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == colleague.pk
    assert not conversation.messages.filter(answer_kind="no_agent").exists()
