"""Handing a customer to a human: a failing bot hands over, "Talk to a human" always gets an
answer the customer sees, and a customer queued with no agent online is told so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from rest_framework.test import APIClient

from apps.support import services
from apps.support.models import Conversation, Message
from tests.support.factories import AgentPresenceFactory

from .helpers import api_client, conversation_asked, support_agent_create
from .sockets import console_socket, consumer_test, customer_socket, frame_answer, receive_until


def test_a_failing_bot_hands_the_api_customer_to_a_human(kb, monkeypatch):
    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("the intent model file is missing")

    monkeypatch.setattr(services.replies, "answer_compose", broken)
    conversation = services.conversation_start(kb_id=kb.pk)
    customer = APIClient(raise_request_exception=False)

    response = customer.post(
        f"/api/support/chat/{conversation.token}/messages/",
        {"text": "Where is my card?", "client_id": "c1"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == Conversation.Status.WAITING
    assert body["reply"]["answer_kind"] == "handoff"
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.WAITING
    assert conversation.messages.filter(
        sender=Message.Sender.CUSTOMER, text="Where is my card?"
    ).exists()


# -- "Talk to a human" always says something ------------------------------------------------
def _human_or_error(event: dict[str, Any]) -> bool:
    return event["type"] in ("human", "error")


@consumer_test
def test_asking_for_a_human_when_with_the_bot_queues_and_says_so(kb):
    conversation = conversation_asked(kb, "Where is my card?")

    answer = async_to_sync(frame_answer)(conversation.token, {"type": "human"}, _human_or_error)

    assert answer["type"] == "human" and answer["outcome"] == "queued"
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.WAITING


@consumer_test
def test_asking_for_a_human_again_says_the_customer_is_already_in_the_queue(kb):
    conversation = conversation_asked(kb, "Where is my card?")
    services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")

    answer = async_to_sync(frame_answer)(conversation.token, {"type": "human"}, _human_or_error)

    assert answer["type"] == "human" and answer["outcome"] == "waiting"
    assert "already in the queue for a person" in answer["text"]


@consumer_test
def test_asking_for_a_human_with_an_agent_says_a_person_is_already_there(kb, agent):
    conversation = conversation_asked(kb, "Where is my card?")
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    answer = async_to_sync(frame_answer)(conversation.token, {"type": "human"}, _human_or_error)

    assert answer["type"] == "human" and answer["outcome"] == "agent"
    assert "A person is already with you" in answer["text"]


@consumer_test
def test_asking_for_a_human_in_a_closed_conversation_starts_a_new_one(kb):
    conversation = conversation_asked(kb, "Where is my card?")
    services.conversation_close(conversation_id=conversation.pk)

    answer = async_to_sync(frame_answer)(conversation.token, {"type": "human"}, _human_or_error)

    # The widget's answer to code "closed": a new conversation, where it asks again.
    assert answer["type"] == "error"
    assert answer["code"] == "closed" and answer["request"] == "human"


@pytest.mark.parametrize(
    ("state", "status_code", "outcome"),
    [("bot", 200, "queued"), ("waiting", 200, "waiting"), ("agent", 200, "agent")],
)
def test_the_human_endpoint_answers_plainly_in_every_state(kb, agent, state, status_code, outcome):
    conversation = conversation_asked(kb, "Where is my card?")
    if state == "waiting":
        services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")
    if state == "agent":
        services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    response = APIClient().post(f"/api/support/chat/{conversation.token}/human/")

    assert response.status_code == status_code
    body = response.json()
    assert body["outcome"] == outcome
    assert body["ok"] is (outcome == "queued")
    assert body["message"]


def test_the_human_endpoint_refuses_a_closed_conversation(kb):
    conversation = conversation_asked(kb, "Where is my card?")
    services.conversation_close(conversation_id=conversation.pk)

    response = APIClient().post(f"/api/support/chat/{conversation.token}/human/")

    assert response.status_code == 409
    assert "start a new one" in response.json()["detail"]


# -- with no agent online the customer is told that they are queued ------------------------
def test_with_no_agent_online_the_customer_is_told_they_are_queued(kb):
    customer = api_client()
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
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")

    services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")

    assert not conversation.messages.filter(text=services.NO_AGENT_ONLINE_TEXT).exists()


def test_a_console_that_stopped_sending_heartbeats_does_not_count_as_online(kb, agent):
    AgentPresenceFactory(
        agent=agent, connections=1, last_seen_at=timezone.now() - timedelta(minutes=10)
    )
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")

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
    customer = customer_socket(conversation.token)
    await customer.connect()
    await customer.receive_json_from()
    await customer.send_json_to({"type": "human"})
    notice = await receive_until(
        customer, lambda e: e["type"] == "message" and e["message"]["sender"] == "system"
    )
    console = console_socket(agent)
    await console.connect()
    queue = await receive_until(console, lambda e: e["type"] == "queue")
    await console.disconnect()
    await customer.disconnect()
    return notice, queue


def test_a_waiting_customer_is_told_when_the_last_agent_goes_offline_once(kb, agent):
    services.agent_presence_connect(agent_id=agent.pk)
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")
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
    colleague = support_agent_create()
    services.agent_presence_connect(agent_id=agent.pk)
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")
    services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")
    services.agent_presence_connect(agent_id=colleague.pk)

    services.agent_presence_disconnect(agent_id=agent.pk)

    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == colleague.pk
    assert not conversation.messages.filter(answer_kind="no_agent").exists()


def test_after_a_handover_the_customer_is_told_their_place_in_the_queue(kb, agent):
    services.agent_presence_connect(agent_id=agent.pk)
    earlier = conversation_asked(kb, "My card was swallowed by an ATM")
    services.conversation_handoff(conversation_id=earlier.pk, reason="customer_asked")
    conversation = conversation_asked(kb, "I was charged twice")

    services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")

    notice = conversation.messages.order_by("-pk").first()
    assert notice.sender == Message.Sender.SYSTEM and notice.answer_kind == "queue"
    assert notice.text.startswith("You're number 2 in the queue for a person.")


def test_a_waiting_customer_who_writes_hears_back_at_most_once_a_minute(kb):
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")
    services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")
    taken = conversation_asked(kb, "Where is my refund?")
    Conversation.objects.filter(pk=taken.pk).update(
        status=Conversation.Status.AGENT,
        handoff_at=timezone.now() - timedelta(minutes=5),
        taken_over_at=timezone.now() - timedelta(minutes=1),
    )

    services.customer_message_post(conversation_id=conversation.pk, text="Hello? Anyone there?")
    services.customer_message_post(conversation_id=conversation.pk, text="Still waiting")

    notices = list(conversation.messages.filter(answer_kind="queue"))
    assert len(notices) == 1
    assert notices[0].text == (
        "You're next in the queue for a person. The usual wait is about 4 minutes. "
        "They will read everything you write here."
    )
