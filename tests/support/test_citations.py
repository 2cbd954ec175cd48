"""Citations follow the articles they point at: renamed, unpublished, deleted; and a FAQ answer
cites only a published article."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from apps.support import services
from apps.support.models import Article, Conversation, Message

from .sockets import consumer_test, customer_socket


def _answered(kb: Any) -> tuple[Conversation, Message]:
    conversation = services.conversation_start(kb_id=kb.pk)
    question, _ = services.customer_message_post(
        conversation_id=conversation.pk, text="How long does card delivery take?"
    )
    answer = services.bot_reply(conversation_id=conversation.pk, message_id=question.pk)
    assert answer is not None and answer.citations
    return conversation, answer


def _cited(conversation: Conversation, answer: Message) -> list[dict[str, Any]]:
    rows = APIClient().get(f"/api/support/chat/{conversation.token}/messages/").json()
    return next(r["citations"] for r in rows if r["id"] == answer.pk)


def test_a_citation_shows_the_articles_current_title(kb):
    conversation, answer = _answered(kb)
    cited = answer.citations[0]
    article = Article.objects.get(pk=cited["article_id"])
    services.article_upsert(
        kb_id=kb.pk,
        title="Card delivery times",
        body=article.body,
        source_key=article.source_key,
        intents=article.intents,
    )

    citations = _cited(conversation, answer)

    assert {"article_id": article.pk, "title": "Card delivery times"} == {
        k: citations[0][k] for k in ("article_id", "title")
    }
    assert citations[0]["url"] == f"/support/articles/{article.pk}/"


@pytest.mark.parametrize("change", ["delete", "unpublish"])
def test_a_citation_of_an_article_gone_or_unpublished_is_left_out(kb, change):
    conversation, answer = _answered(kb)
    gone_id = answer.citations[0]["article_id"]
    article = Article.objects.get(pk=gone_id)
    if change == "delete":
        services.article_delete(article_id=gone_id)
    else:
        services.article_upsert(
            kb_id=kb.pk,
            title=article.title,
            body=article.body,
            source_key=article.source_key,
            status=Article.Status.DRAFT,
        )

    citations = _cited(conversation, answer)
    page = APIClient().get(f"/support/articles/{gone_id}/")

    assert gone_id not in [c["article_id"] for c in citations]
    assert page.status_code == 404  # the link that is no longer shown would have been dead
    # Agents keep the sources the answer was composed from.
    answer.refresh_from_db()
    assert any(s["article_id"] == gone_id for s in answer.sources)


@consumer_test
def test_the_chat_history_on_reconnect_shows_current_citations(kb):
    conversation, answer = _answered(kb)
    services.article_delete(article_id=answer.citations[0]["article_id"])

    history = async_to_sync(_history)(conversation.token)

    shown = next(m for m in history["messages"] if m["id"] == answer.pk)
    assert answer.citations[0]["article_id"] not in [c["article_id"] for c in shown["citations"]]


async def _history(token: Any) -> Any:
    comm = customer_socket(token)
    await comm.connect()
    history = await comm.receive_json_from()
    await comm.disconnect()
    return history


def test_a_faq_answer_linked_to_an_unpublished_article_cites_a_published_one(kb):
    from apps.support.answers import answer_compose
    from apps.support.intent import IntentGuess

    card = Article.objects.get(kb=kb, title="Card delivery")
    draft, _ = services.article_upsert(
        kb_id=kb.pk,
        title="Card delivery (old)",
        body="# Card delivery (old)\n\nCards used to take ten days.",
        status=Article.Status.DRAFT,
    )
    services.faq_upsert(
        kb_id=kb.pk,
        question="When will my card arrive?",
        answer="Within 5 to 7 working days.",
        intent="card_arrival",
        article_id=draft.pk,
    )

    answer = answer_compose(
        kb_id=kb.pk, question="When will my card arrive?", guess=IntentGuess("card_arrival", 0.95)
    )

    assert answer.kind == "faq"
    assert [c["article_id"] for c in answer.citations] == [card.pk]
