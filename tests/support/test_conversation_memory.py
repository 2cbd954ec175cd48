"""Conversation memory: a follow-up is retrieved and answered with the earlier turns."""

from __future__ import annotations

import pytest

from apps.support import answers, selectors, services
from apps.support.memory import Exchange, follow_up, query_rewrite

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "text",
    ["how long does that take?", "can I do it at an ATM?", "and Google Pay?", "why?"],
)
def test_questions_that_lean_on_an_earlier_turn_are_follow_ups(text):
    assert follow_up(text)


@pytest.mark.parametrize(
    "text",
    [
        "How long does card delivery take?",
        "I want to change the PIN of my debit card at an ATM",
        "Why was my transfer to my landlord declined yesterday?",
    ],
)
def test_questions_that_stand_on_their_own_are_not_rewritten(text):
    earlier = [Exchange("How do I change my PIN?", "At an ATM.", "extractive")]

    rewrite = query_rewrite(text, earlier)

    assert not rewrite.follow_up
    assert rewrite.query == text


def test_a_follow_up_is_searched_with_the_question_it_refers_to():
    earlier = [
        Exchange("What is the capital of Peru?", "I can only help with ...", "out_of_scope"),
        Exchange("I forgot my PIN, how do I change it?", "At most ATMs.", "extractive"),
    ]

    rewrite = query_rewrite("how long does that take?", earlier)

    assert rewrite.context == ("I forgot my PIN, how do I change it?",)
    assert rewrite.query == "I forgot my PIN, how do I change it? how long does that take?"


def test_a_chain_of_follow_ups_reaches_back_to_the_question_that_started_it():
    earlier = [
        Exchange("I want to order a new card", "Order it in the app.", "extractive"),
        Exchange("and express?", "Express takes 2 days.", "extractive"),
    ]

    rewrite = query_rewrite("how much is that?", earlier)

    assert rewrite.context == ("I want to order a new card", "and express?")


def test_chat_follow_up_is_answered_from_the_article_of_the_earlier_question(kb, ask):
    conversation = services.conversation_start(kb_id=kb.pk)
    first = ask(conversation, "I forgot my PIN, how do I change it?")

    follow = ask(conversation, "can I do that at an ATM?")
    alone = answers.answer_compose(kb_id=kb.pk, question="can I do that at an ATM?")

    assert first.citations[0]["title"] == "Changing your PIN"
    assert follow.answer_kind == "extractive"
    assert follow.citations[0]["title"] == "Changing your PIN"
    assert "PIN services menu" in follow.text
    # Without the conversation the same words find nothing about PINs to quote.
    assert "PIN services menu" not in alone.text


def test_follow_up_without_context_goes_to_the_wrong_article_and_with_it_to_the_right_one(kb):
    history = [Exchange("I forgot my PIN, how do I change it?", "At most ATMs.", "extractive")]

    alone = answers.answer_compose(kb_id=kb.pk, question="how long does that take?")
    remembered = answers.answer_compose(
        kb_id=kb.pk, question="how long does that take?", history=history
    )

    assert alone.sources[0]["title"] == "Card delivery"
    assert remembered.sources[0]["title"] == "Changing your PIN"
    assert remembered.extras["query"].startswith("I forgot my PIN")


def test_memory_pairs_each_earlier_question_with_the_bots_answer(kb, ask):
    conversation = services.conversation_start(kb_id=kb.pk)
    answered = ask(conversation, "I forgot my PIN, how do I change it?")
    pending, _ = services.customer_message_post(conversation_id=conversation.pk, text="and then?")
    later, _ = services.customer_message_post(conversation_id=conversation.pk, text="hello?")

    exchanges = selectors.conversation_exchanges(
        conversation_id=conversation.pk, before_id=later.pk
    )

    assert [e.question for e in exchanges] == ["I forgot my PIN, how do I change it?", "and then?"]
    assert (exchanges[0].answer, exchanges[0].answer_kind) == (answered.text, "extractive")
    assert (exchanges[1].answer, exchanges[1].answer_kind) == ("", "")  # not answered yet
    assert pending.pk < later.pk


class _RecordingGenerator:
    def __init__(self):
        self.calls = []

    def stream(self, question, passages, history=()):
        self.calls.append((question, list(passages), list(history)))
        yield "At an ATM, in the PIN services menu."


def test_generated_follow_up_gets_the_earlier_turns_and_the_right_passages(kb, monkeypatch, ask):
    from apps.support import generation

    fake = _RecordingGenerator()
    monkeypatch.setattr(generation, "generator_for", lambda **_: fake)
    kb.answer_mode = "generated"
    kb.save(update_fields=["answer_mode"])
    conversation = services.conversation_start(kb_id=kb.pk)
    first = ask(conversation, "I forgot my PIN, how do I change it?")

    reply = ask(conversation, "can I do that at an ATM?")

    question, passages, history = fake.calls[-1]
    assert reply.answer_kind == "generated"
    assert question == "can I do that at an ATM?"
    assert passages[0].startswith("Changing your PIN")
    assert history[0][0] == "I forgot my PIN, how do I change it?"
    assert history[0][1] == first.text


def test_the_ask_api_answers_a_follow_up_with_the_earlier_questions(kb, client):
    asked = client.post(
        "/api/support/ask/",
        {
            "question": "how long does that take?",
            "kb": kb.pk,
            "earlier": ["How do I change my PIN?"],
        },
        content_type="application/json",
    )
    alone = client.post(
        "/api/support/ask/",
        {"question": "how long does that take?", "kb": kb.pk},
        content_type="application/json",
    )
    too_many = client.post(
        "/api/support/ask/",
        {"question": "and then?", "kb": kb.pk, "earlier": ["a question"] * 7},
        content_type="application/json",
    )

    assert asked.status_code == 200
    assert asked.json()["sources"][0]["title"] == "Changing your PIN"
    assert asked.json()["query"] == "How do I change my PIN? how long does that take?"
    assert alone.json()["sources"][0]["title"] == "Card delivery" and alone.json()["query"] == ""
    assert too_many.status_code == 400 and "earlier" in too_many.json()


@pytest.mark.parametrize(
    "text",
    [
        "Is there a fee for topping up by transfer?",
        "My transfer to my landlord was declined, why did it happen?",
    ],
)
def test_a_question_with_words_of_its_own_is_no_follow_up_whatever_it_says(text):
    assert not follow_up(text)
