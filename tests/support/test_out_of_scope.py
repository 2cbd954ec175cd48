"""Nonsense stays with the bot: an off-topic question gets an offer of a person, and goes to
the queue only when the customer accepts."""

from __future__ import annotations

import pytest

from apps.support import answers, services
from apps.support.models import Message
from apps.support.scope import offer_accepted, offer_declined

pytestmark = pytest.mark.django_db


def test_off_topic_question_gets_what_the_bot_helps_with_and_stays_with_the_bot(kb, ask):
    kb.scope = "questions about cards and PINs"
    kb.save(update_fields=["scope"])
    conversation = services.conversation_start(kb_id=kb.pk)

    reply = ask(conversation, "zebra quantum violin")

    assert reply.answer_kind == "out_of_scope"
    assert "I can only help with questions about cards and PINs" in reply.text
    assert "fetch a person" in reply.text
    assert conversation.status == "bot" and conversation.handoff_reason == ""


def test_accepting_the_offer_puts_the_customer_in_the_queue(kb, ask):
    conversation = services.conversation_start(kb_id=kb.pk)
    ask(conversation, "zebra quantum violin")

    reply = ask(conversation, "Yes please")

    assert conversation.status == "waiting"
    assert conversation.handoff_reason == "customer_asked"
    assert reply.answer_kind == "handoff"


def test_declining_the_offer_keeps_the_bot_and_the_next_question_is_answered(kb, ask):
    conversation = services.conversation_start(kb_id=kb.pk)
    ask(conversation, "zebra quantum violin")

    declined = ask(conversation, "no thanks")
    answered = ask(conversation, "How long does card delivery take?")

    assert declined.answer_kind == "declined" and conversation.status == "bot"
    assert answered.answer_kind == "extractive"
    assert "5 to 7 working days" in answered.text


def test_a_yes_without_an_offer_is_no_request_for_a_person(kb, ask):
    conversation = services.conversation_start(kb_id=kb.pk)
    ask(conversation, "How long does card delivery take?")

    reply = ask(conversation, "yes")

    assert conversation.status == "bot"
    assert reply.answer_kind != "handoff"


def test_the_talk_to_a_human_button_still_works_after_an_offer(kb, ask):
    conversation = services.conversation_start(kb_id=kb.pk)
    ask(conversation, "zebra quantum violin")

    asked = services.conversation_human_request(conversation_id=conversation.pk)

    conversation.refresh_from_db()
    assert asked.outcome == "queued" and conversation.status == "waiting"


def test_an_empty_knowledge_base_offers_a_person_instead_of_handing_off(db, fake_embedder):
    empty = services.knowledge_base_ensure(name="Empty help centre")

    answer = answers.answer_compose(kb_id=empty.pk, question="How long does delivery take?")

    assert answer.kind == "out_of_scope" and not answer.handoff


def test_an_intent_above_the_threshold_keeps_a_question_in_scope(kb):
    from apps.support.intent import IntentGuess

    guess = IntentGuess(label="change_pin", probability=0.9)

    answer = answers.answer_compose(kb_id=kb.pk, question="zebra quantum violin", guess=guess)

    assert answer.kind != "out_of_scope"


def test_the_offer_is_stored_as_a_bot_message_the_customer_sees(kb, ask):
    conversation = services.conversation_start(kb_id=kb.pk)

    reply = ask(conversation, "what's the best pizza topping")

    stored = Message.objects.get(pk=reply.pk)
    assert stored.sender == "bot" and stored.answer_kind == "out_of_scope"


@pytest.mark.parametrize("text", ["yes", "Yes please!", "ok", "sure", "a person"])
def test_short_yes_answers_accept_the_offer(text):
    assert offer_accepted(text) and not offer_declined(text)


@pytest.mark.parametrize("text", ["no", "No thanks.", "nope"])
def test_short_no_answers_decline_the_offer(text):
    assert offer_declined(text) and not offer_accepted(text)


def test_a_question_that_starts_with_yes_is_no_acceptance():
    assert not offer_accepted("yes but how long does delivery take?")


def test_agents_set_what_the_bot_helps_with_through_the_api(kb, agent_api):
    changed = agent_api.patch(
        f"/api/support/knowledge-bases/{kb.pk}/", {"scope": "card questions"}, format="json"
    )
    refused = agent_api.patch(
        f"/api/support/knowledge-bases/{kb.pk}/", {"scope": "   "}, format="json"
    )

    kb.refresh_from_db()
    answer = answers.answer_compose(kb_id=kb.pk, question="zebra quantum violin")
    assert changed.status_code == 200 and changed.json()["scope"] == "card questions"
    assert refused.status_code == 400
    assert kb.scope == "card questions"
    assert "I can only help with card questions." in answer.text
