"""The chat widget chooses its knowledge base per page: the storefront's chat greets and answers
from the outdoor shop's help centre, the bank's pages from the bank's; an unknown knowledge
base is refused with a clear error."""

from __future__ import annotations

import pytest

from apps.support import demo, retrieval, services
from apps.support.answers import answer_compose
from apps.support.models import Conversation, KnowledgeBase

from .helpers import api_client

pytestmark = pytest.mark.django_db


def _quiet(_message):
    return None


@pytest.fixture
def shop_kb(kb):
    # `kb` (the bank-like test help centre) is created first: it stays the default.
    return demo.demo_knowledge_shop_load(log=_quiet)


def _start(payload):
    return api_client().post("/api/support/chat/", payload, format="json")


def test_the_storefront_embeds_the_widget_with_the_shop_knowledge_base(client, settings):
    settings.SHOP_SUPPORT_KB = "shop"

    page = client.get("/shop/")

    assert page.status_code == 200
    assert 'data-kb="shop"' in page.content.decode()


def test_the_support_chat_page_uses_the_default_knowledge_base(client):
    page = client.get("/support/chat/")

    assert 'data-kb=""' in page.content.decode()


def test_the_shop_chat_greets_with_the_shops_greeting(shop_kb):
    started = _start({"kb": "shop"})

    conversation = Conversation.objects.get(pk=started.json()["id"])
    greeting = conversation.messages.get(answer_kind="greeting")
    assert started.status_code == 201
    assert conversation.kb_id == shop_kb.pk
    assert greeting.text == shop_kb.greeting
    assert "Trailhead & Hearth" in greeting.text
    assert "account, cards or payments" not in greeting.text


def test_the_shop_chat_answers_from_the_shop_help_centre(shop_kb):
    # The hashing stand-in's similarities run lower than MiniLM's (the real one answers at the
    # default threshold: the slow test below).
    KnowledgeBase.objects.filter(pk=shop_kb.pk).update(handoff_threshold=0.1)
    token = _start({"kb": "shop"}).json()["token"]

    posted = api_client().post(
        f"/api/support/chat/{token}/messages/",
        {"text": "How many days do I have to return an item?", "client_id": "r1"},
        format="json",
    )

    reply = posted.json()["reply"]
    assert reply["answer_kind"] in ("extractive", "generated")
    assert reply["citations"][0]["title"] == "Returns"
    assert "30 days" in reply["text"]


def test_without_a_name_the_chat_uses_the_default_knowledge_base(kb, shop_kb):
    started = _start({})

    assert Conversation.objects.get(pk=started.json()["id"]).kb_id == kb.pk


def test_a_knowledge_base_can_still_be_named_by_id(kb, shop_kb):
    started = _start({"kb": shop_kb.pk})

    assert Conversation.objects.get(pk=started.json()["id"]).kb_id == shop_kb.pk


def test_an_unknown_knowledge_base_is_refused_and_nothing_started(kb):
    started = _start({"kb": "no-such-shop"})

    assert started.status_code == 400
    assert started.json()["detail"] == 'Unknown knowledge base "no-such-shop".'
    assert not Conversation.objects.exists()


def test_a_widget_name_another_knowledge_base_has_is_refused(kb, shop_kb):
    with pytest.raises(services.InvalidText, match="already named"):
        services.knowledge_base_slug_set(kb_id=kb.pk, slug="shop")
    with pytest.raises(services.InvalidText, match="letters, digits"):
        services.knowledge_base_slug_set(kb_id=kb.pk, slug="bank shop")

    kb.refresh_from_db()
    assert kb.slug is None


def test_the_demo_set_up_makes_both_help_centres(fake_embedder):
    bank = demo.demo_knowledge_load(log=_quiet)
    shop = demo.demo_knowledge_shop_load(log=_quiet)

    assert (bank.slug, shop.slug) == ("bank", "shop")
    assert bank.is_default and not shop.is_default
    assert shop.articles.count() == len(demo.articles_parse("help_centre_shop.md", demo.SHOP_DATA))
    assert shop.greeting != bank.greeting


@pytest.mark.slow
def test_the_real_embedder_answers_shop_questions_from_the_shop_articles(model_dirs, embedder):
    retrieval.retrieval_state_reset()
    shop = demo.demo_knowledge_shop_load(log=_quiet)
    try:
        refund = answer_compose(kb_id=shop.pk, question="When will I get my refund?")
        size = answer_compose(kb_id=shop.pk, question="what size hiking boots should I get")
        bank = answer_compose(kb_id=shop.pk, question="How do I change the PIN of my debit card?")
    finally:
        retrieval.retrieval_state_reset()

    assert refund.kind == "extractive" and refund.citations[0]["title"] == "Returns"
    assert size.kind == "extractive" and size.citations[0]["title"] == "Sizes and exchanges"
    # A bank question is off-topic here: the shop's scope, not the bank's article.
    assert bank.kind == "out_of_scope"
    assert "orders, delivery, returns" in bank.text
