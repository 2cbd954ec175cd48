"""Conversations from the agents' side: who sees them in the queue and the list, who may take
one over, transfer it or close it."""

from __future__ import annotations

import pytest

from apps.support import selectors, services
from apps.support.models import Conversation, Message

from .helpers import api_client, conversation_asked, support_agent_create


# -- the queue and the list: a visit with only the bot's greeting is no conversation ----------
def test_a_greeting_only_visit_is_not_in_the_console_queue_or_the_api_list(kb, agent):
    idle = services.conversation_start(kb_id=kb.pk)
    asked = conversation_asked(kb, "My card was swallowed by an ATM")
    api = api_client(agent)

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


def test_a_conversation_given_to_an_agent_before_the_customer_wrote_is_listed(kb, agent):
    colleague = support_agent_create()
    conversation = services.conversation_start(kb_id=kb.pk)
    services.conversation_transfer(
        conversation_id=conversation.pk, agent=colleague, to_agent_id=agent.pk
    )

    queue = {c["id"]: c for c in selectors.queue_list()}

    assert queue[conversation.pk]["assigned_agent_id"] == agent.pk


# -- taking over ------------------------------------------------------------------------------
def test_taking_over_twice_tells_the_customer_once(kb, agent):
    conversation = services.conversation_start(kb_id=kb.pk)

    first = services.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    second = services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    assert first and second
    assert conversation.messages.filter(text__contains="joined").count() == 1


def test_someone_elses_conversation_cannot_be_taken_over(kb, agent):
    colleague = support_agent_create()
    conversation = services.conversation_start(kb_id=kb.pk)
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    assert not services.conversation_take_over(conversation_id=conversation.pk, agent=colleague)
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == agent.pk


def test_taking_over_a_closed_conversation_says_it_is_closed(kb, agent):
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")
    services.conversation_close(conversation_id=conversation.pk)

    response = api_client(agent).post(f"/api/support/conversations/{conversation.pk}/take-over/")

    assert response.status_code == 409
    assert response.json()["detail"] == "This conversation is closed."
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED
    assert conversation.assigned_agent_id is None


# -- transfer: only to a support agent, and only by the owner or a supervisor -----------------
def test_a_conversation_is_transferred_only_to_a_support_agent(kb, agent, agent_api):
    from apps.accounts.services import user_create

    analyst = user_create(username="ana", password="ana-pass-1234", roles=["analyst"])
    conversation = services.conversation_start(kb_id=kb.pk)
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    url = f"/api/support/conversations/{conversation.pk}/transfer/"

    to_analyst = agent_api.post(url, {"to_agent_id": analyst.pk}, format="json")
    to_nobody = agent_api.post(url, {"to_agent_id": 987654}, format="json")

    assert to_analyst.status_code == 400
    assert "support agent" in to_analyst.json()["detail"]
    assert to_nobody.status_code == 400
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == agent.pk
    assert not conversation.messages.filter(text__contains="transferred").exists()


def test_a_colleague_can_still_be_given_the_conversation(kb, agent, agent_api):
    colleague = support_agent_create()
    conversation = services.conversation_start(kb_id=kb.pk)
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    response = agent_api.post(
        f"/api/support/conversations/{conversation.pk}/transfer/",
        {"to_agent_id": colleague.pk},
        format="json",
    )

    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == colleague.pk


def test_a_colleague_cannot_transfer_a_conversation_an_agent_has(kb, agent):
    colleague = support_agent_create()
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    url = f"/api/support/conversations/{conversation.pk}/transfer/"

    to_self = api_client(colleague).post(url, {"to_agent_id": colleague.pk}, format="json")
    to_queue = api_client(colleague).post(url, {"to_agent_id": None}, format="json")

    assert (to_self.status_code, to_queue.status_code) == (403, 403)
    assert "only they or a supervisor can transfer it" in to_self.json()["detail"]
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.AGENT
    assert conversation.assigned_agent_id == agent.pk
    assert not conversation.messages.filter(text__contains="transferred").exists()


def test_the_owner_and_a_supervisor_can_transfer_it(kb, agent):
    colleague = support_agent_create()
    supervisor = support_agent_create("kim", is_staff=True)
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    url = f"/api/support/conversations/{conversation.pk}/transfer/"

    by_owner = api_client(agent).post(url, {"to_agent_id": colleague.pk}, format="json")
    by_supervisor = api_client(supervisor).post(url, {"to_agent_id": agent.pk}, format="json")

    assert (by_owner.status_code, by_supervisor.status_code) == (200, 200)
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == agent.pk
    assert conversation.messages.filter(text__contains="transferred").count() == 2


# -- only the assigned agent (or a supervisor) closes a conversation an agent has ------------
def test_a_colleague_cannot_close_a_conversation_an_agent_has(kb, agent):
    colleague = support_agent_create()
    conversation = conversation_asked(kb, "My card was swallowed by an ATM")
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    response = api_client(colleague).post(f"/api/support/conversations/{conversation.pk}/close/")

    assert response.status_code == 403
    assert "alex has this conversation" in response.json()["detail"]
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.AGENT
    assert conversation.closed_at is None
    assert not conversation.messages.filter(answer_kind="csat_request").exists()


def test_the_assigned_agent_and_a_supervisor_can_close_it(kb, agent):
    supervisor = support_agent_create("kim", is_staff=True)
    mine = conversation_asked(kb, "My card was swallowed by an ATM")
    theirs = conversation_asked(kb, "And my PIN is blocked")
    services.conversation_take_over(conversation_id=mine.pk, agent=agent)
    services.conversation_take_over(conversation_id=theirs.pk, agent=agent)

    by_owner = api_client(agent).post(f"/api/support/conversations/{mine.pk}/close/")
    by_supervisor = api_client(supervisor).post(f"/api/support/conversations/{theirs.pk}/close/")

    assert (by_owner.status_code, by_supervisor.status_code) == (200, 200)
    assert set(
        Conversation.objects.filter(pk__in=[mine.pk, theirs.pk]).values_list("status", flat=True)
    ) == {Conversation.Status.CLOSED}


def test_conversations_nobody_has_taken_are_closed_by_any_agent_as_before(kb, agent):
    colleague = support_agent_create()
    services.agent_presence_connect(agent_id=agent.pk)
    with_bot = conversation_asked(kb, "My card was swallowed by an ATM")
    waiting = conversation_asked(kb, "Can I talk to a human?")
    services.conversation_handoff(conversation_id=waiting.pk, reason="customer_asked")
    waiting.refresh_from_db()
    assert waiting.assigned_agent_id == agent.pk  # routed to alex, not taken

    closes = [
        api_client(colleague).post(f"/api/support/conversations/{c.pk}/close/").status_code
        for c in (with_bot, waiting)
    ]

    assert closes == [200, 200]


# -- notes --------------------------------------------------------------------------------------
def test_a_note_on_a_conversation_that_does_not_exist_writes_nothing(kb, agent):
    with pytest.raises(Conversation.DoesNotExist):
        services.note_add(conversation_id=987654, agent=agent, text="Nobody reads this")

    assert not Message.objects.filter(conversation_id=987654).exists()
