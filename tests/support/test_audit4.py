"""Audit 4 of the support app: defects a customer, an agent or an API client would hit."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.support import services
from apps.support.models import FAQ, Conversation, Message


@pytest.fixture
def agent_api(agent: Any) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(agent)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/api/support/articles/?kb=abc",
        "/api/support/faqs/?kb=1.5",
        "/api/support/articles/?status=publish",
        "/api/support/faqs/?status=everything",
        "/api/support/conversations/?status=open",
    ],
)
def test_list_filters_with_bad_values_are_a_400_naming_the_parameter(kb, agent_api, url):
    response = agent_api.get(url)

    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert name in response.json()


def test_list_filters_with_good_values_still_filter(kb, agent_api):
    response = agent_api.get(f"/api/support/articles/?kb={kb.pk}&status=published")

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_a_failing_bot_hands_the_api_customer_to_a_human(kb, monkeypatch):
    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("the intent model file is missing")

    monkeypatch.setattr(services, "answer_compose", broken)
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
    from apps.accounts.services import user_create

    colleague = user_create(username="sam", password="sam-pass-1234", roles=["support_agent"])
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


def test_taking_over_twice_tells_the_customer_once(kb, agent):
    conversation = services.conversation_start(kb_id=kb.pk)

    first = services.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    second = services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    assert first and second
    assert conversation.messages.filter(text__contains="joined").count() == 1


def test_someone_elses_conversation_cannot_be_taken_over(kb, agent):
    from apps.accounts.services import user_create

    colleague = user_create(username="sam", password="sam-pass-1234", roles=["support_agent"])
    conversation = services.conversation_start(kb_id=kb.pk)
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    assert not services.conversation_take_over(conversation_id=conversation.pk, agent=colleague)
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == agent.pk


def test_draft_faq_never_overwrites_or_unpublishes_a_published_pair(kb, agent, agent_api):
    faq, _ = services.faq_upsert(
        kb_id=kb.pk,
        question="How long does card delivery take?",
        answer="5 to 7 working days; express takes 2.",
        intent="card_delivery_estimate",
    )
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(
        conversation_id=conversation.pk, text="How long does card delivery take?"
    )
    services.agent_message_post(
        conversation_id=conversation.pk, agent=agent, text="Let me check that for you."
    )

    response = agent_api.post(f"/api/support/conversations/{conversation.pk}/faq-draft/")

    assert response.status_code == 409
    assert f"#{faq.pk}" in response.json()["detail"]
    faq.refresh_from_db()
    assert faq.status == FAQ.Status.PUBLISHED
    assert faq.answer == "5 to 7 working days; express takes 2."


def test_draft_faq_from_a_new_question_is_still_made(kb, agent):
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text="Can I pay with my watch?")
    services.agent_message_post(
        conversation_id=conversation.pk, agent=agent, text="Yes, with Apple Pay and Google Pay."
    )

    faq = services.faq_draft_from_conversation(conversation_id=conversation.pk)

    assert faq.status == FAQ.Status.DRAFT
    assert faq.question == "Can I pay with my watch?"
    assert faq.source_conversation_id == conversation.pk


def _ask(conversation: Conversation, text: str) -> Message | None:
    message, _ = services.customer_message_post(conversation_id=conversation.pk, text=text)
    return services.bot_reply(conversation_id=conversation.pk, message_id=message.pk)


def test_stats_count_only_conversations_where_someone_asked_and_humans_do_not_count_as_bot(
    kb, agent
):
    from datetime import timedelta

    from django.utils import timezone

    from apps.support import selectors

    # A visitor opened the chat page and left: only the greeting, a day ago.
    idle = services.conversation_start(kb_id=kb.pk)
    Conversation.objects.filter(pk=idle.pk).update(
        last_message_at=timezone.now() - timedelta(days=1, hours=1)
    )
    answered = services.conversation_start(kb_id=kb.pk)
    assert _ask(answered, "How long does card delivery take?").answer_kind == "extractive"
    services.conversation_close(conversation_id=answered.pk)
    # An agent stepped in by themselves (no handoff) and solved it.
    helped = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=helped.pk, text="My card is stuck in Spain")
    services.agent_message_post(conversation_id=helped.pk, agent=agent, text="Let me look.")
    services.conversation_close(conversation_id=helped.pk)

    stats = selectors.support_stats(days=14)

    assert stats["conversations"] == 2
    assert stats["series"][-1]["conversations"] == 2
    assert stats["series"][-1]["bot_resolution_rate"] == 0.5
