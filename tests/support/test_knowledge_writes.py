"""The REST API and the Django admin write FAQ pairs and knowledge base settings through the
same services as the staff pages (same rules, same re-embedding); deleting articles, past
conversations or whole knowledge bases in the admin takes their vectors out of the indices; the
top navigation links the staff pages; `support_evaluate` reads the page's threshold grid."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import ProtectedError
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.mlops.vectors import named_index
from apps.support import services
from apps.support.answers import answer_compose
from apps.support.intent import IntentGuess
from apps.support.models import FAQ, Article, Chunk, KnowledgeBase, PastConversation
from apps.support.retrieval import (
    CHUNK_INDEX,
    REPLY_INDEX,
    passages_retrieve,
    replies_suggest,
    reply_index_id,
)
from apps.support.selectors import TRADEOFF_THRESHOLDS
from tests.support.factories import KnowledgeBaseFactory

pytestmark = pytest.mark.django_db

OLD_QUESTION = "Where is my parcel?"
NEW_QUESTION = "How long does card delivery take?"


@pytest.fixture
def api(agent):
    client = APIClient()
    client.force_authenticate(agent)
    return client


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root-test", "r@example.com", "pw-12345"))
    return client


@pytest.fixture
def faq(kb):
    services.faq_upsert(kb_id=kb.pk, question="How do I change my PIN?", answer="At an ATM.")
    pair, _ = services.faq_upsert(
        kb_id=kb.pk, question=OLD_QUESTION, answer="Ask the courier.", intent="card_arrival"
    )
    return pair


@pytest.fixture
def other_kb(db):
    return KnowledgeBaseFactory(name="Other help centre")


def _top_suggestion(kb, query):
    suggestions = replies_suggest(kb_id=kb.pk, query=query)
    return suggestions[0] if suggestions else None


def _card_question(kb):
    return answer_compose(
        kb_id=kb.pk, question="When will my card arrive?", guess=IntentGuess("card_arrival", 0.95)
    )


def _faq_state(pair):
    pair.refresh_from_db()
    return (pair.question, pair.answer, pair.intent, pair.status, pair.article_id, pair.kb_id)


# -- REST API: FAQ pairs ---------------------------------------------------------------------
def test_api_patch_of_a_question_reembeds_it_and_suggests_it_with_the_new_wording(
    kb, faq, api, fake_embedder
):
    fake_embedder.calls.clear()

    response = api.patch(f"/api/support/faqs/{faq.pk}/", {"question": NEW_QUESTION}, format="json")

    embedded = list(fake_embedder.calls)
    faq.refresh_from_db()
    top = _top_suggestion(kb, NEW_QUESTION)
    assert response.status_code == 200 and response.json()["question"] == NEW_QUESTION
    assert faq.embedded and embedded == [NEW_QUESTION]
    # The stored vector is the new wording's own: the same text scores (almost) 1.
    assert top is not None and (top.id, top.question) == (faq.pk, NEW_QUESTION)
    assert top.score > 0.99


def test_api_patch_of_the_answer_only_keeps_the_vector(faq, api, fake_embedder):
    fake_embedder.calls.clear()

    response = api.patch(f"/api/support/faqs/{faq.pk}/", {"answer": "Track it in the app."})

    faq.refresh_from_db()
    assert response.status_code == 200
    assert (faq.answer, faq.embedded) == ("Track it in the app.", True)
    assert fake_embedder.calls == []


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"question": ""}, "may not be blank"),
        ({"question": "   "}, "may not be blank"),
        ({"question": "q" * 501}, "no more than 500 characters"),
        ({"answer": ""}, "may not be blank"),
        ({"status": "archived"}, "not a valid choice"),
        ({"question": "How do I change my PIN?"}, "Another FAQ pair already has this question"),
        ({"article": "other-kb"}, "article of the same knowledge base"),
        ({"kb": "other-kb"}, "stays in its knowledge base"),
        ({"article": 999999}, "does not exist"),
    ],
)
def test_api_bad_faq_edits_are_400_and_change_nothing(
    kb, faq, other_kb, api, fake_embedder, payload, needle
):
    if payload.get("article") == "other-kb":
        article, _ = services.article_upsert(kb_id=other_kb.pk, title="Elsewhere", body="Text.")
        payload = {"article": article.pk}
    if payload.get("kb") == "other-kb":
        payload = {"kb": other_kb.pk}
    before = _faq_state(faq)
    fake_embedder.calls.clear()

    response = api.patch(f"/api/support/faqs/{faq.pk}/", payload, format="json")

    assert response.status_code == 400
    assert needle in json.dumps(response.json())
    assert _faq_state(faq) == before
    assert fake_embedder.calls == []


def test_api_publishing_a_draft_makes_the_bot_answer_with_it(kb, api):
    draft, _ = services.faq_upsert(
        kb_id=kb.pk,
        question="When will my card arrive?",
        answer="Draft answer.",
        intent="card_arrival",
        status="draft",
    )
    before = _card_question(kb)

    response = api.patch(
        f"/api/support/faqs/{draft.pk}/",
        {"status": "published", "answer": "New cards arrive within 5 to 7 working days."},
        format="json",
    )

    after = _card_question(kb)
    assert response.status_code == 200
    assert before.kind != "faq"
    assert (after.kind, after.faq_id) == ("faq", draft.pk)
    assert after.text == "New cards arrive within 5 to 7 working days."


def test_api_create_put_and_delete_keep_the_suggestions_in_step(kb, api):
    created = api.post(
        "/api/support/faqs/",
        {"kb": kb.pk, "question": OLD_QUESTION, "answer": "Ask the courier."},
        format="json",
    )
    faq_id = created.json()["id"]
    found = _top_suggestion(kb, OLD_QUESTION)
    replaced = api.put(
        f"/api/support/faqs/{faq_id}/",
        {"kb": kb.pk, "question": NEW_QUESTION, "answer": "Two to seven days.", "intent": ""},
        format="json",
    )
    moved = _top_suggestion(kb, NEW_QUESTION)
    deleted = api.delete(f"/api/support/faqs/{faq_id}/")

    assert created.status_code == 201 and found is not None and found.id == faq_id
    assert replaced.status_code == 200
    assert moved is not None and (moved.id, moved.reply) == (faq_id, "Two to seven days.")
    assert moved.score > 0.99
    assert deleted.status_code == 204
    assert replies_suggest(kb_id=kb.pk, query=NEW_QUESTION) == []


def test_api_create_refuses_bad_input_with_400(kb, other_kb, api):
    article, _ = services.article_upsert(kb_id=other_kb.pk, title="Elsewhere", body="Text.")

    blank = api.post("/api/support/faqs/", {"question": " ", "answer": "x"}, format="json")
    foreign = api.post(
        "/api/support/faqs/",
        {"kb": kb.pk, "question": "Q?", "answer": "A.", "article": article.pk},
        format="json",
    )

    assert (blank.status_code, foreign.status_code) == (400, 400)
    assert "article of the same knowledge base" in foreign.json()["detail"]
    assert not FAQ.objects.filter(question="Q?").exists()


def test_customers_cannot_edit_faqs_through_the_api(faq, db):
    from apps.accounts.services import user_create

    client = APIClient()
    client.force_authenticate(user_create(username="cleo", password="cleo-pass-123"))

    response = client.patch(f"/api/support/faqs/{faq.pk}/", {"question": NEW_QUESTION})

    faq.refresh_from_db()
    assert response.status_code == 403 and faq.question == OLD_QUESTION


# -- REST API: knowledge base settings -------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"handoff_threshold": 1.5}, "handoff threshold must be a number from 0 to 1"),
        ({"handoff_threshold": "nan"}, "number"),
        ({"faq_threshold": 2}, "FAQ threshold must be a number from 0 to 1"),
        ({"faq_threshold": -0.1}, "FAQ threshold must be a number from 0 to 1"),
        ({"llm_base_url": "https://attacker.example/v1"}, "cannot be set here"),
        ({"llm_endpoint": "https://attacker.example/v1"}, "Incorrect type"),
        ({"llm_endpoint": 999_999}, "does not exist"),
        ({"answer_mode": "poetry"}, "not a valid choice"),
        ({"greeting": ""}, "may not be blank"),
        ({"name": "Other help centre"}, "already exists"),
    ],
)
def test_api_bad_kb_settings_are_400_and_change_nothing(kb, other_kb, api, payload, needle):
    response = api.patch(f"/api/support/knowledge-bases/{kb.pk}/", payload, format="json")

    kb.refresh_from_db()
    assert response.status_code == 400
    assert needle in json.dumps(response.json())
    assert (kb.name, kb.handoff_threshold, kb.faq_threshold, kb.answer_mode) == (
        "Test help centre",
        0.45,
        0.75,
        "extractive",
    )


def test_api_kb_settings_change_what_the_bot_does_and_keep_one_default(kb, other_kb, api):
    question = "How long does card delivery take?"
    answered = answer_compose(kb_id=kb.pk, question=question)

    threshold = api.patch(
        f"/api/support/knowledge-bases/{kb.pk}/", {"handoff_threshold": 1}, format="json"
    )
    default = api.patch(
        f"/api/support/knowledge-bases/{other_kb.pk}/", {"is_default": True}, format="json"
    )

    kb.refresh_from_db()
    assert threshold.status_code == 200 and threshold.json()["handoff_threshold"] == 1.0
    assert not answered.handoff and answer_compose(kb_id=kb.pk, question=question).handoff
    assert default.status_code == 200
    assert list(KnowledgeBase.objects.filter(is_default=True)) == [other_kb]


# -- Django admin ----------------------------------------------------------------------------
def _faq_form(pair, **changes):
    data = {
        "question": pair.question,
        "answer": pair.answer,
        "intent": pair.intent,
        "status": pair.status,
        "article": pair.article_id or "",
    }
    return {**data, **changes}


def test_admin_edit_of_a_question_reembeds_it(kb, faq, admin_client, fake_embedder):
    fake_embedder.calls.clear()

    response = admin_client.post(
        f"/admin/support/faq/{faq.pk}/change/", _faq_form(faq, question=NEW_QUESTION)
    )

    embedded = list(fake_embedder.calls)
    faq.refresh_from_db()
    top = _top_suggestion(kb, NEW_QUESTION)
    assert response.status_code == 302
    assert (faq.question, faq.embedded) == (NEW_QUESTION, True)
    assert embedded == [NEW_QUESTION]
    assert top is not None and top.id == faq.pk and top.score > 0.99


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"question": "How do I change my PIN?"}, "Another FAQ pair already has this question"),
        ({"article": "other-kb"}, "article of the same knowledge base"),
        ({"status": "archived"}, "Select a valid choice"),
        ({"answer": "  "}, "This field is required"),
    ],
)
def test_admin_refuses_what_the_service_refuses(
    kb, faq, other_kb, admin_client, fake_embedder, changes, needle
):
    if changes.get("article") == "other-kb":
        article, _ = services.article_upsert(kb_id=other_kb.pk, title="Elsewhere", body="Text.")
        changes = {"article": article.pk}
    before = _faq_state(faq)
    fake_embedder.calls.clear()

    response = admin_client.post(f"/admin/support/faq/{faq.pk}/change/", _faq_form(faq, **changes))

    assert response.status_code == 200  # the form again, with the reason
    assert needle in response.content.decode()
    assert _faq_state(faq) == before
    assert fake_embedder.calls == []


def test_admin_add_and_delete_of_a_pair_follow_the_suggestions(kb, admin_client):
    added = admin_client.post(
        "/admin/support/faq/add/",
        {"kb": kb.pk, "question": NEW_QUESTION, "answer": "A week.", "status": "published"},
    )
    pair = FAQ.objects.get(question=NEW_QUESTION)
    found = _top_suggestion(kb, NEW_QUESTION)
    deleted = admin_client.post(f"/admin/support/faq/{pair.pk}/delete/", {"post": "yes"})

    assert added.status_code == 302 and pair.embedded
    assert found is not None and found.id == pair.pk
    assert deleted.status_code == 302 and not FAQ.objects.filter(pk=pair.pk).exists()
    assert replies_suggest(kb_id=kb.pk, query=NEW_QUESTION) == []


def test_admin_bulk_delete_removes_the_vectors_too(kb, faq, admin_client):
    response = admin_client.post(
        "/admin/support/faq/",
        {"action": "delete_selected", "_selected_action": [faq.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not FAQ.objects.filter(pk=faq.pk).exists()
    assert all(s.id != faq.pk for s in replies_suggest(kb_id=kb.pk, query=OLD_QUESTION))


def _kb_form(kb, **changes):
    data = {
        "name": kb.name,
        "greeting": kb.greeting,
        "scope": kb.scope,
        "answer_mode": kb.answer_mode,
        "handoff_threshold": kb.handoff_threshold,
        "faq_threshold": kb.faq_threshold,
        "llm_endpoint": kb.llm_endpoint_id or "",
        "llm_model": kb.llm_model,
    }
    if kb.is_default:
        data["is_default"] = "on"
    return {**data, **changes}


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"faq_threshold": "2"}, "FAQ threshold must be a number from 0 to 1"),
        ({"handoff_threshold": "-0.5"}, "handoff threshold must be a number from 0 to 1"),
        ({"llm_endpoint": "999999"}, "Select a valid choice"),
    ],
)
def test_admin_refuses_bad_kb_settings_with_the_pages_rules(kb, admin_client, changes, needle):
    response = admin_client.post(
        f"/admin/support/knowledgebase/{kb.pk}/change/", _kb_form(kb, **changes)
    )

    kb.refresh_from_db()
    assert response.status_code == 200
    assert needle in response.content.decode()
    assert (kb.handoff_threshold, kb.faq_threshold, kb.llm_endpoint) == (0.45, 0.75, None)


def test_admin_kb_edits_reach_the_bot_and_keep_one_default(kb, admin_client):
    question = "How long does card delivery take?"
    answered = answer_compose(kb_id=kb.pk, question=question)

    changed = admin_client.post(
        f"/admin/support/knowledgebase/{kb.pk}/change/", _kb_form(kb, handoff_threshold="1")
    )
    added = admin_client.post(
        "/admin/support/knowledgebase/add/",
        {**_kb_form(kb, name="Second centre", handoff_threshold="0.3"), "is_default": "on"},
    )

    kb.refresh_from_db()
    second = KnowledgeBase.objects.get(name="Second centre")
    assert (changed.status_code, added.status_code) == (302, 302)
    assert not answered.handoff and answer_compose(kb_id=kb.pk, question=question).handoff
    assert (second.handoff_threshold, second.is_default, kb.is_default) == (0.3, True, False)


# -- Django admin: deletes take the vectors out of the indices ------------------------------
LOST_CARD = "# Lost card\n\n## Freezing it\nFreeze a lost or stolen card in the app under Cards."
PAST_QUESTION = "My card was stolen, what now?"


def _indexed(name):
    return set(named_index(name).current().ids().tolist())


def _kb_vector_ids(kb_id):
    """The ids this knowledge base's rows have in the chunk and the reply index."""
    chunks = set(Chunk.objects.filter(kb_id=kb_id).values_list("id", flat=True))
    replies = {
        reply_index_id("faq", pk)
        for pk in FAQ.objects.filter(kb_id=kb_id).values_list("id", flat=True)
    }
    replies |= {
        reply_index_id("past", pk)
        for pk in PastConversation.objects.filter(kb_id=kb_id).values_list("id", flat=True)
    }
    return chunks, replies


def _knowledge(kb_id, title, body, question):
    """An article, a FAQ pair and a past conversation, all embedded (commit hooks run now)."""
    article, _ = services.article_upsert(kb_id=kb_id, title=title, body=body)
    services.faq_upsert(kb_id=kb_id, question=question, answer=f"Answer: {title}.")
    services.past_conversation_upsert(kb_id=kb_id, question=PAST_QUESTION, best_reply=title)
    return article


def _retrieved_articles(kb, query):
    return {p.article_id for p in passages_retrieve(kb_id=kb.pk, query=query)}


@pytest.mark.parametrize("how", ["single", "bulk"])
def test_admin_article_deletes_take_the_passages_out_of_the_index(kb, admin_client, how):
    lost = _knowledge(kb.pk, "Lost card", LOST_CARD, "I lost my card")
    card = Article.objects.get(kb=kb, title="Card delivery")
    pin = Article.objects.get(kb=kb, title="Changing your PIN")
    gone = [card] if how == "single" else [card, lost]
    gone_chunks = set(Chunk.objects.filter(article__in=gone).values_list("id", flat=True))
    pin_chunks = set(Chunk.objects.filter(article=pin).values_list("id", flat=True))
    assert gone_chunks | pin_chunks <= _indexed(CHUNK_INDEX)
    assert card.pk in _retrieved_articles(kb, "How long does card delivery take?")

    if how == "single":
        response = admin_client.post(f"/admin/support/article/{card.pk}/delete/", {"post": "yes"})
    else:
        response = admin_client.post(
            "/admin/support/article/",
            {"action": "delete_selected", "_selected_action": [a.pk for a in gone], "post": "yes"},
        )

    assert response.status_code == 302
    assert not Article.objects.filter(pk__in=[a.pk for a in gone]).exists()
    assert not gone_chunks & _indexed(CHUNK_INDEX)
    assert pin_chunks <= _indexed(CHUNK_INDEX)
    retrieved = _retrieved_articles(kb, "How long does card delivery take? Lost or stolen card")
    assert not retrieved & {a.pk for a in gone}
    assert pin.pk in _retrieved_articles(kb, "How do I change my PIN at an ATM?")


@pytest.mark.parametrize("how", ["single", "bulk"])
def test_admin_kb_delete_removes_all_its_vectors_and_leaves_other_kbs_alone(
    kb, faq, other_kb, admin_client, how
):
    services.past_conversation_upsert(kb_id=kb.pk, question=PAST_QUESTION, best_reply="Freeze it.")
    other_article = _knowledge(other_kb.pk, "Lost card", LOST_CARD, "I lost my card")
    chunks, replies = _kb_vector_ids(kb.pk)
    other_chunks, other_replies = _kb_vector_ids(other_kb.pk)
    # Two FAQ pairs and a past conversation here, one of each there.
    assert chunks and other_chunks and (len(replies), len(other_replies)) == (3, 2)
    assert chunks | other_chunks <= _indexed(CHUNK_INDEX)
    assert replies | other_replies <= _indexed(REPLY_INDEX)

    if how == "single":
        response = admin_client.post(
            f"/admin/support/knowledgebase/{kb.pk}/delete/", {"post": "yes"}
        )
    else:
        response = admin_client.post(
            "/admin/support/knowledgebase/",
            {"action": "delete_selected", "_selected_action": [kb.pk], "post": "yes"},
        )

    assert response.status_code == 302
    assert not KnowledgeBase.objects.filter(pk=kb.pk).exists()
    assert _indexed(CHUNK_INDEX) == other_chunks
    assert _indexed(REPLY_INDEX) == other_replies
    retrieved = _retrieved_articles(other_kb, "I lost my card, how do I freeze it?")
    suggested = replies_suggest(kb_id=other_kb.pk, query="I lost my card")
    assert retrieved == {other_article.pk}
    assert suggested and suggested[0].question == "I lost my card"


def test_a_kb_with_conversations_is_not_deleted_and_keeps_its_vectors(kb, faq, admin_client):
    services.conversation_start(kb_id=kb.pk)
    chunks, replies = _kb_vector_ids(kb.pk)

    page = admin_client.post(f"/admin/support/knowledgebase/{kb.pk}/delete/", {"post": "yes"})
    with pytest.raises(ProtectedError):
        services.knowledge_base_delete(kb_id=kb.pk)

    assert page.status_code == 200 and "protected" in page.content.decode()
    assert KnowledgeBase.objects.filter(pk=kb.pk).exists()
    assert _kb_vector_ids(kb.pk) == (chunks, replies)
    assert chunks <= _indexed(CHUNK_INDEX) and replies <= _indexed(REPLY_INDEX)


def test_admin_delete_of_a_past_conversation_removes_its_suggestion(kb, admin_client):
    past, _ = services.past_conversation_upsert(
        kb_id=kb.pk, question=PAST_QUESTION, best_reply="Freeze it in the app."
    )
    found = replies_suggest(kb_id=kb.pk, query=PAST_QUESTION)

    response = admin_client.post(
        "/admin/support/pastconversation/",
        {"action": "delete_selected", "_selected_action": [past.pk], "post": "yes"},
    )

    assert [s.id for s in found] == [past.pk]
    assert response.status_code == 302
    assert reply_index_id("past", past.pk) not in _indexed(REPLY_INDEX)
    assert replies_suggest(kb_id=kb.pk, query=PAST_QUESTION) == []


def _past_form(past: PastConversation, **changes: str) -> dict[str, str]:
    return {
        "question": past.question,
        "best_reply": past.best_reply,
        "intent": past.intent,
        **changes,
    }


def test_admin_edit_of_a_past_question_reembeds_it(kb, admin_client, fake_embedder):
    past, _ = services.past_conversation_upsert(
        kb_id=kb.pk, question=PAST_QUESTION, best_reply="Freeze it in the app."
    )
    fake_embedder.calls.clear()

    response = admin_client.post(
        f"/admin/support/pastconversation/{past.pk}/change/",
        _past_form(past, question=NEW_QUESTION),
    )

    embedded = list(fake_embedder.calls)
    past.refresh_from_db()
    top = _top_suggestion(kb, NEW_QUESTION)
    assert response.status_code == 302
    assert (past.question, past.embedded) == (NEW_QUESTION, True)
    assert embedded == [NEW_QUESTION]
    assert top is not None and top.id == past.pk and top.score > 0.99


def test_admin_refuses_a_past_question_another_exchange_has(kb, admin_client, fake_embedder):
    services.past_conversation_upsert(kb_id=kb.pk, question=PAST_QUESTION)
    second, _ = services.past_conversation_upsert(kb_id=kb.pk, question=NEW_QUESTION)
    fake_embedder.calls.clear()

    response = admin_client.post(
        f"/admin/support/pastconversation/{second.pk}/change/",
        _past_form(second, question=PAST_QUESTION),
    )

    assert response.status_code == 200
    assert "Another past conversation" in response.content.decode()
    second.refresh_from_db()
    assert second.question == NEW_QUESTION and fake_embedder.calls == []


def test_admin_add_of_a_past_conversation_is_embedded_for_suggestions(kb, admin_client):
    response = admin_client.post(
        "/admin/support/pastconversation/add/",
        {"kb": kb.pk, "question": NEW_QUESTION, "best_reply": "A week.", "intent": ""},
    )

    past = PastConversation.objects.get(question=NEW_QUESTION)
    found = _top_suggestion(kb, NEW_QUESTION)
    assert response.status_code == 302 and past.embedded
    assert found is not None and found.id == past.pk


def test_admin_shows_chunks_conversations_and_presence_but_writes_none(kb, admin_client):
    services.article_upsert(kb_id=kb.pk, title="Cards", body="Freeze a card in the app.")
    chunk = Chunk.objects.filter(article__kb=kb).first()
    assert chunk is not None

    page = admin_client.get(f"/admin/support/chunk/{chunk.pk}/change/")
    edit = admin_client.post(
        f"/admin/support/chunk/{chunk.pk}/change/", {"text": "Changed by hand", "position": 0}
    )

    assert page.status_code == 200
    assert edit.status_code == 403
    chunk.refresh_from_db()
    assert chunk.text != "Changed by hand"
    assert admin_client.post(f"/admin/support/chunk/{chunk.pk}/delete/").status_code == 403
    assert Chunk.objects.filter(pk=chunk.pk).exists()
    for model in ("chunk", "conversation", "agentpresence"):
        assert admin_client.get(f"/admin/support/{model}/add/").status_code == 403


# -- top navigation --------------------------------------------------------------------------
def test_top_navigation_links_the_staff_pages_for_agents_only(kb, agent, client):
    from apps.accounts.services import user_create

    customer = user_create(username="cleo", password="cleo-pass-123")
    links = ('href="/support/knowledge-bases/"', 'href="/support/knowledge/faq-drafts/"')

    anonymous = client.get("/").content.decode()
    client.force_login(customer)
    as_customer = client.get("/").content.decode()
    client.force_login(agent)
    as_agent = client.get("/").content.decode()

    assert all(link in as_agent for link in links)
    assert not any(link in page for link in links for page in (anonymous, as_customer))
    for link in links:
        target = link.removeprefix('href="').removesuffix('"')
        assert client.get(target, follow=True).status_code == 200


# -- support_evaluate ------------------------------------------------------------------------
def test_support_evaluate_reports_the_pages_threshold_grid(kb, tmp_path):
    data = tmp_path / "tickets.csv"
    data.write_text(
        "text,category\nwhen does my card arrive,card_arrival\nchange my PIN,change_pin\n"
    )
    out = StringIO()

    call_command("support_evaluate", data=str(data), stdout=out)

    last = json.loads(out.getvalue().strip().splitlines()[-1])
    assert last["n"] == 2
    assert [row["threshold"] for row in last["thresholds"]] == list(TRADEOFF_THRESHOLDS)
