"""FAQ drafts are proposed by themselves from clusters of resolved conversations."""

from __future__ import annotations

import pytest

from apps.support import services
from apps.support.models import FAQ

pytestmark = pytest.mark.django_db

SAME = [
    "How do I freeze my card?",
    "how can I freeze my card",
    "I need to freeze my card, how?",
    "freeze my card please, how do I do it",
]
OTHER = ["Can I get a paper statement?", "What is my IBAN?"]
ANSWER = "Open Cards, choose the card and tap Freeze. Tap again to unfreeze it."


def _resolved_by_agent(kb, agent, question, answer):
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text=question)
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    services.agent_message_post(conversation_id=conversation.pk, agent=agent, text=answer)
    services.conversation_close(conversation_id=conversation.pk, by=agent)
    return conversation


def test_a_question_agents_answered_again_and_again_becomes_one_draft(kb, agent):
    made = [_resolved_by_agent(kb, agent, q, ANSWER) for q in SAME]
    for question in OTHER:
        _resolved_by_agent(kb, agent, question, "Some answer.")

    drafts = services.faq_drafts_propose(kb_id=kb.pk)

    assert len(drafts) == 1
    draft = drafts[0]
    assert draft.status == FAQ.Status.DRAFT and draft.answer == ANSWER
    assert draft.question in SAME
    assert draft.source_conversation_id in {c.pk for c in made}


def test_proposing_again_adds_nothing_and_keeps_the_draft(kb, agent):
    for question in SAME:
        _resolved_by_agent(kb, agent, question, ANSWER)
    first = services.faq_drafts_propose(kb_id=kb.pk)

    second = services.faq_drafts_propose(kb_id=kb.pk)

    assert len(first) == 1 and second == []
    assert FAQ.objects.filter(kb=kb).count() == 1


def test_a_group_smaller_than_three_or_still_open_is_no_draft(kb, agent):
    for question in SAME[:2]:
        _resolved_by_agent(kb, agent, question, ANSWER)
    open_conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=open_conversation.pk, text=SAME[2])

    assert services.faq_drafts_propose(kb_id=kb.pk) == []


def test_a_published_pair_that_covers_the_group_blocks_the_draft(kb, agent):
    services.faq_upsert(kb_id=kb.pk, question="How do I freeze my card?", answer=ANSWER)
    for question in SAME:
        _resolved_by_agent(kb, agent, question, ANSWER)

    assert services.faq_drafts_propose(kb_id=kb.pk) == []
    assert FAQ.objects.get(kb=kb).status == FAQ.Status.PUBLISHED


@pytest.mark.slow
def test_real_minilm_groups_paraphrases_and_keeps_other_topics_apart(
    db, model_dirs, embedder, agent
):
    from apps.support import retrieval

    retrieval.retrieval_state_reset()
    kb = services.knowledge_base_ensure(name="Real help centre")
    paraphrases = [
        "How do I freeze my card?",
        "I want to temporarily block my debit card",
        "Is it possible to lock my card for a while?",
    ]
    for question in paraphrases:
        _resolved_by_agent(kb, agent, question, ANSWER)
    for question in [
        "What is my IBAN?",
        "Can I get a paper statement?",
        "How do I close my account?",
    ]:
        _resolved_by_agent(kb, agent, question, "Some answer.")

    drafts = services.faq_drafts_propose(kb_id=kb.pk)

    assert [d.question in paraphrases for d in drafts] == [True]
    assert drafts[0].answer == ANSWER
