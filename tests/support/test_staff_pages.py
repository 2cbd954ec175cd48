"""Staff pages: knowledge base settings (with the handoff trade-off) and draft FAQ review."""

from __future__ import annotations

import pytest

from apps.support import services
from apps.support.answers import answer_compose
from apps.support.intent import IntentGuess
from apps.support.models import FAQ
from apps.support.retrieval import replies_suggest
from tests.support.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

SETTINGS = {
    "handoff_threshold": "0.6",
    "faq_threshold": "0.8",
    "answer_mode": "extractive",
    "llm_endpoint": "",
    "llm_model": "",
    "greeting": "Hello! How can we help?",
}


@pytest.fixture
def customer(db):
    from apps.accounts.services import user_create

    return user_create(username="cleo", password="cleo-pass-123")


def _draft(kb, agent, *, question="When will my new card arrive?", answer="Within a week."):
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text=question)
    services.agent_message_post(conversation_id=conversation.pk, agent=agent, text=answer)
    services.conversation_close(conversation_id=conversation.pk, by=agent)
    return services.faq_draft_from_conversation(conversation_id=conversation.pk)


def _bot_answer(conversation, confidence, *, kind="extractive", rating="", flag="", sources=None):
    return MessageFactory(
        conversation=conversation,
        sender="bot",
        text="an answer",
        answer_kind=kind,
        confidence=confidence,
        rating=rating,
        flag=flag,
        sources=[{"chunk_id": 1}] if sources is None else sources,
    )


def _card_question(kb):
    return answer_compose(
        kb_id=kb.pk,
        question="When will my card arrive?",
        guess=IntentGuess("card_arrival", 0.95),
    )


# -- permissions ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "/support/knowledge-bases/",
        "/support/knowledge-bases/{kb}/",
        "/support/knowledge/faq-drafts/",
        "/support/conversations/{conversation}/",
    ],
)
def test_staff_pages_send_anonymous_visitors_to_sign_in_and_refuse_customers(
    kb, customer, client, url
):
    conversation = services.conversation_start(kb_id=kb.pk)
    url = url.format(kb=kb.pk, conversation=conversation.pk)

    anonymous = client.get(url)
    client.force_login(customer)
    refused = client.get(url)

    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    assert refused.status_code == 403


def test_customers_cannot_change_settings_or_publish(kb, agent, customer, client):
    faq = _draft(kb, agent)
    client.force_login(customer)

    settings = client.post(f"/support/knowledge-bases/{kb.pk}/", SETTINGS)
    publish = client.post(
        f"/support/knowledge/faq-drafts/{faq.pk}/",
        {"action": "publish", f"faq-{faq.pk}-question": faq.question},
    )
    discard = client.post(f"/support/knowledge/faq-drafts/{faq.pk}/", {"action": "discard"})

    kb.refresh_from_db()
    faq.refresh_from_db()
    assert (settings.status_code, publish.status_code, discard.status_code) == (403, 403, 403)
    assert kb.handoff_threshold == 0.45 and faq.status == "draft"


def test_the_support_pages_link_to_the_new_pages(kb, agent, client):
    client.force_login(agent)

    for url in ("/support/console/", "/support/knowledge/", "/support/stats/"):
        page = client.get(url).content.decode()
        assert "/support/knowledge-bases/" in page, url
        assert "/support/knowledge/faq-drafts/" in page, url


# -- knowledge base settings ---------------------------------------------------------------
def test_agent_changes_the_thresholds_and_the_bot_uses_them(kb, agent, client):
    question = "How long does card delivery take?"
    answered = answer_compose(kb_id=kb.pk, question=question)
    client.force_login(agent)

    response = client.post(
        f"/support/knowledge-bases/{kb.pk}/",
        {**SETTINGS, "handoff_threshold": "1", "faq_threshold": "0.9"},
    )

    kb.refresh_from_db()
    assert response.status_code == 302
    assert (kb.handoff_threshold, kb.faq_threshold, kb.greeting) == (
        1.0,
        0.9,
        "Hello! How can we help?",
    )
    assert not answered.handoff
    assert answer_compose(kb_id=kb.pk, question=question).handoff


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("handoff_threshold", "1.5", "less than or equal to 1"),
        ("handoff_threshold", "-0.1", "greater than or equal to 0"),
        ("handoff_threshold", "abc", "Enter a number from 0 to 1"),
        ("handoff_threshold", "nan", "Enter a number from 0 to 1"),
        ("handoff_threshold", "", "This field is required"),
        ("faq_threshold", "2", "less than or equal to 1"),
        ("answer_mode", "poetry", "Select a valid choice"),
        ("llm_endpoint", "http://127.0.0.1:8000/v1", "Select a valid choice"),
        ("greeting", "", "This field is required"),
    ],
)
def test_bad_settings_are_refused_with_the_reason_and_the_input_kept(
    kb, agent, client, field, value, needle
):
    client.force_login(agent)
    posted = {**SETTINGS, "llm_model": "typed-model-7b", field: value}

    response = client.post(f"/support/knowledge-bases/{kb.pk}/", posted)

    kb.refresh_from_db()
    page = response.content.decode()
    assert response.status_code == 400
    assert needle in page and "Nothing was saved" in page
    assert (kb.handoff_threshold, kb.faq_threshold) == (0.45, 0.75)
    assert 'value="typed-model-7b"' in page  # the other fields keep what was typed
    assert 'data-testid="current-threshold">0.45<' in page


def test_tradeoff_counts_handoffs_and_caught_bad_answers_from_history(kb, agent, client):
    conversation = ConversationFactory(kb=kb)
    _bot_answer(conversation, 0.35, rating="down")
    _bot_answer(conversation, 0.55, flag="incorrect")
    _bot_answer(conversation, 0.65, kind="faq", rating="up")
    _bot_answer(conversation, 0.95, rating="up")
    _bot_answer(conversation, 0.3, kind="handoff")  # handed off for low confidence
    # Neither a request for a human nor an empty search depends on the threshold.
    _bot_answer(conversation, 0.0, kind="handoff", sources=[])
    MessageFactory(conversation=conversation, text="thanks")
    client.force_login(agent)

    response = client.get(f"/support/knowledge-bases/{kb.pk}/")

    tradeoff = response.context["tradeoff"]
    rows = {row.threshold: row for row in tradeoff.rows}
    assert (tradeoff.scored, tradeoff.rated_bad, tradeoff.rated_good) == (5, 2, 2)
    assert 0.45 in rows and rows[0.45].is_current  # the KB's own threshold is always a row
    assert (rows[0.2].handed_off, rows[0.2].bad_caught) == (0, 0)
    assert (rows[0.45].handed_off, rows[0.45].handoff_rate, rows[0.45].bad_caught) == (2, 0.4, 1)
    assert (rows[0.6].handed_off, rows[0.6].bad_caught, rows[0.6].good_lost) == (3, 2, 0)
    assert (rows[0.7].answered_rate, rows[0.7].good_lost) == (0.2, 1)
    assert "2 of 2" in response.content.decode()


def test_tradeoff_of_a_real_conversation_uses_the_stored_confidence(kb, agent, client):
    conversation = services.conversation_start(kb_id=kb.pk)
    message, _ = services.customer_message_post(
        conversation_id=conversation.pk, text="How long does card delivery take?"
    )
    reply = services.bot_reply(conversation_id=conversation.pk, message_id=message.pk)
    services.message_rate(conversation_id=conversation.pk, message_id=reply.pk, rating="down")
    client.force_login(agent)

    tradeoff = client.get(f"/support/knowledge-bases/{kb.pk}/").context["tradeoff"]

    above = [r for r in tradeoff.rows if r.threshold > reply.confidence]
    assert tradeoff.scored == 1 and tradeoff.rated_bad == 1
    assert all(r.bad_caught == 1 and r.handoff_rate == 1.0 for r in above)


def test_use_link_prefills_the_threshold_without_saving(kb, agent, client):
    client.force_login(agent)

    response = client.get(f"/support/knowledge-bases/{kb.pk}/", {"handoff_threshold": "0.7"})

    kb.refresh_from_db()
    assert response.context["form"]["handoff_threshold"].value() == 0.7
    assert kb.handoff_threshold == 0.45


def test_tradeoff_without_history_explains_itself(kb, agent, client):
    client.force_login(agent)

    page = client.get("/support/knowledge-bases/", follow=True)

    assert page.status_code == 200
    assert 'data-testid="tradeoff-empty"' in page.content.decode()


def test_unknown_knowledge_base_is_404(kb, agent, client):
    client.force_login(agent)

    assert client.get("/support/knowledge-bases/999999/").status_code == 404
    assert client.get("/support/knowledge/faq-drafts/", {"kb": 999999}).status_code == 404


# -- draft FAQ review ------------------------------------------------------------------------
def test_drafts_are_listed_with_their_source_conversation(kb, agent, client):
    faq = _draft(kb, agent)
    client.force_login(agent)

    page = client.get("/support/knowledge/faq-drafts/").content.decode()
    transcript = client.get(f"/support/conversations/{faq.source_conversation_id}/")

    assert faq.question in page
    assert f"/support/conversations/{faq.source_conversation_id}/" in page
    assert transcript.status_code == 200
    assert "Within a week." in transcript.content.decode()


def test_transcript_shows_customer_text_as_text(kb, agent, client):
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(
        conversation_id=conversation.pk, text="<script>alert(1)</script>"
    )
    client.force_login(agent)

    page = client.get(f"/support/conversations/{conversation.pk}/").content.decode()

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_publishing_a_draft_makes_the_bot_answer_with_it(kb, agent, client):
    faq = _draft(kb, agent)
    before = _card_question(kb)
    client.force_login(agent)

    response = client.post(
        f"/support/knowledge/faq-drafts/{faq.pk}/",
        {
            "action": "publish",
            f"faq-{faq.pk}-question": "When will my card arrive?",
            f"faq-{faq.pk}-answer": "New cards arrive within 5 to 7 working days.",
            f"faq-{faq.pk}-intent": "card_arrival",
        },
    )

    faq.refresh_from_db()
    after = _card_question(kb)
    suggestions = replies_suggest(kb_id=kb.pk, query="When will my card arrive?")
    assert response.status_code == 302
    assert (faq.status, faq.question, faq.embedded) == (
        "published",
        "When will my card arrive?",
        True,
    )
    assert before.kind != "faq"
    assert (after.kind, after.faq_id) == ("faq", faq.pk)
    assert after.text == "New cards arrive within 5 to 7 working days."
    assert suggestions and suggestions[0].id == faq.pk
    assert "/support/knowledge/faq-drafts/" in response["Location"]


def test_a_draft_is_not_used_before_it_is_published(kb, agent):
    faq = _draft(kb, agent)
    services.faq_update(
        faq_id=faq.pk, question=faq.question, answer=faq.answer, intent="card_arrival"
    )

    answer = _card_question(kb)

    assert answer.kind != "faq"
    assert replies_suggest(kb_id=kb.pk, query=faq.question) == []


def test_publishing_for_an_intent_that_has_an_answer_warns_unless_replacing(kb, agent, client):
    old, _ = services.faq_upsert(
        kb_id=kb.pk, question="Where is my card?", answer="Old answer.", intent="card_arrival"
    )
    first = _draft(kb, agent)
    second = _draft(kb, agent, question="My card has not come yet", answer="Newer answer.")
    client.force_login(agent)

    def publish(faq, **extra):
        data = {
            "action": "publish",
            f"faq-{faq.pk}-question": faq.question,
            f"faq-{faq.pk}-answer": faq.answer,
            f"faq-{faq.pk}-intent": "card_arrival",
        }
        return client.post(
            f"/support/knowledge/faq-drafts/{faq.pk}/", {**data, **extra}, follow=True
        )

    listed = client.get("/support/knowledge/faq-drafts/").content.decode()
    kept = publish(first)
    kept_answer = _card_question(kb)
    replaced = publish(second, **{f"faq-{second.pk}-replace_current": "on"})
    replaced_answer = _card_question(kb)

    old.refresh_from_db()
    first.refresh_from_db()
    assert "The bot keeps answering intent card_arrival" in kept.content.decode()
    assert "The bot keeps answering" not in replaced.content.decode()
    assert kept_answer.faq_id == old.pk
    assert replaced_answer.faq_id == second.pk and replaced_answer.text == "Newer answer."
    assert (old.status, first.status) == ("draft", "draft")
    assert "Where is my card?" not in listed  # only drafts are listed


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("question", "", "This field is required"),
        ("answer", "   ", "This field is required"),
        ("question", "q" * 501, "at most 500 characters"),
    ],
)
def test_bad_edits_are_refused_and_the_typed_text_is_kept(kb, agent, client, field, value, needle):
    faq = _draft(kb, agent)
    client.force_login(agent)
    posted = {
        "action": "publish",
        f"faq-{faq.pk}-question": "Edited question?",
        f"faq-{faq.pk}-answer": "Edited answer that must survive the error.",
        f"faq-{faq.pk}-intent": "card_arrival",
        f"faq-{faq.pk}-{field}": value,
    }

    response = client.post(f"/support/knowledge/faq-drafts/{faq.pk}/", posted)

    faq.refresh_from_db()
    page = response.content.decode()
    assert response.status_code == 400
    assert needle in page and "Not saved" in page
    assert faq.status == "draft" and faq.answer == "Within a week."
    kept = "Edited answer that must survive the error." if field != "answer" else "Edited question?"
    assert kept in page


def test_a_question_another_pair_has_is_refused(kb, agent, client):
    services.faq_upsert(kb_id=kb.pk, question="How do I change my PIN?", answer="At an ATM.")
    faq = _draft(kb, agent)
    client.force_login(agent)

    response = client.post(
        f"/support/knowledge/faq-drafts/{faq.pk}/",
        {
            "action": "save",
            f"faq-{faq.pk}-question": "How do I change my PIN?",
            f"faq-{faq.pk}-answer": "x",
        },
    )

    faq.refresh_from_db()
    assert response.status_code == 400
    assert "Another FAQ pair already has this question" in response.content.decode()
    assert faq.question == "When will my new card arrive?"


def test_saving_an_edited_question_reembeds_it(kb, agent, client, fake_embedder):
    faq = _draft(kb, agent)
    fake_embedder.calls.clear()
    client.force_login(agent)

    response = client.post(
        f"/support/knowledge/faq-drafts/{faq.pk}/",
        {
            "action": "save",
            f"faq-{faq.pk}-question": "How long until my card arrives?",
            f"faq-{faq.pk}-answer": faq.answer,
            f"faq-{faq.pk}-intent": "",
        },
    )

    faq.refresh_from_db()
    assert response.status_code == 302
    assert (faq.status, faq.question, faq.embedded) == (
        "draft",
        "How long until my card arrives?",
        True,
    )
    assert fake_embedder.calls == ["How long until my card arrives?"]


def test_discarding_a_draft_deletes_it_but_never_a_published_pair(kb, agent, client):
    faq = _draft(kb, agent)
    published, _ = services.faq_upsert(kb_id=kb.pk, question="Published?", answer="Yes.")
    client.force_login(agent)

    discarded = client.post(f"/support/knowledge/faq-drafts/{faq.pk}/", {"action": "discard"})
    again = client.post(f"/support/knowledge/faq-drafts/{faq.pk}/", {"action": "discard"})
    refused = client.post(
        f"/support/knowledge/faq-drafts/{published.pk}/", {"action": "discard"}, follow=True
    )

    assert discarded.status_code == 302 and again.status_code == 302
    assert not FAQ.objects.filter(pk=faq.pk).exists()
    assert FAQ.objects.filter(pk=published.pk, status="published").exists()
    assert "is published already" in refused.content.decode()
