"""The learning loop: resolved conversations whose answer was rated helpful, or that an agent
confirmed, become intent training rows for review; accepted rows train the next intent model."""

from __future__ import annotations

import pytest

from apps.support import services
from apps.support.intent import rows_from_past
from apps.support.models import PastConversation, TrainingCandidate

from .helpers import api_client

pytestmark = pytest.mark.django_db


def test_a_helpful_answer_in_a_closed_conversation_is_proposed_once(kb, agent, answered, resolved):
    _, reply = resolved()
    resolved("How do I change my PIN?", rating="down")
    open_conv, open_reply = answered("Where can I track my card?")
    services.message_rate(conversation_id=open_conv.pk, message_id=open_reply.pk, rating="up")

    first = services.training_candidates_collect()
    again = services.training_candidates_collect()

    candidate = TrainingCandidate.objects.get()
    assert (first, again) == (1, 0)
    assert candidate.message_id == reply.pk
    assert candidate.question == "How long does card delivery take?"
    assert (candidate.source, candidate.status) == ("rated_good", "proposed")


def test_a_flagged_answer_is_not_proposed_even_if_rated_helpful(kb, agent, resolved):
    _, reply = resolved()
    services.message_flag(message_id=reply.pk, agent=agent, flag="outdated")

    assert services.training_candidates_collect() == 0


def test_accepting_a_row_makes_it_intent_training_data(kb, agent, agent_api, resolved):
    resolved()
    services.training_candidates_collect()
    candidate = TrainingCandidate.objects.get()

    listed = agent_api.get("/api/support/training-candidates/", {"status": "proposed"})
    accepted = agent_api.post(
        f"/api/support/training-candidates/{candidate.pk}/accept/",
        {"intent": "card_delivery_estimate"},
        format="json",
    )
    twice = agent_api.post(
        f"/api/support/training-candidates/{candidate.pk}/accept/",
        {"intent": "card_arrival"},
        format="json",
    )

    assert [row["id"] for row in listed.json()] == [candidate.pk]
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert twice.status_code == 409
    past = PastConversation.objects.get(question="How long does card delivery take?")
    assert past.intent == "card_delivery_estimate" and "5 to 7" in past.best_reply
    assert ("How long does card delivery take?", "card_delivery_estimate") in rows_from_past(kb.pk)


def test_a_row_without_an_intent_needs_one_to_be_accepted(kb, agent, agent_api, resolved):
    resolved()  # no intent model in these tests: nothing was predicted
    services.training_candidates_collect()
    candidate = TrainingCandidate.objects.get()

    refused = agent_api.post(
        f"/api/support/training-candidates/{candidate.pk}/accept/", {}, format="json"
    )

    candidate.refresh_from_db()
    assert refused.status_code == 400 and "intent" in refused.json()["detail"]
    assert candidate.status == "proposed"
    assert not PastConversation.objects.exists()


def test_a_rejected_row_never_trains_and_is_not_proposed_again(kb, agent, agent_api, resolved):
    resolved()
    services.training_candidates_collect()
    candidate = TrainingCandidate.objects.get()

    rejected = agent_api.post(f"/api/support/training-candidates/{candidate.pk}/reject/")
    services.training_candidates_collect()

    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert TrainingCandidate.objects.count() == 1
    assert not PastConversation.objects.exists()


def test_an_agent_confirmed_answer_is_proposed_at_once(kb, agent, agent_api, answered):
    _, reply = answered()

    confirmed = agent_api.post(f"/api/support/messages/{reply.pk}/confirm/")
    greeting = reply.conversation.messages.filter(answer_kind="greeting").get()
    refused = agent_api.post(f"/api/support/messages/{greeting.pk}/confirm/")

    assert confirmed.status_code == 200 and confirmed.json()["source"] == "agent_confirmed"
    assert refused.status_code == 400
    assert TrainingCandidate.objects.get().message_id == reply.pk


def test_proposed_rows_are_for_agents_only(kb):
    assert api_client().get("/api/support/training-candidates/").status_code in (401, 403)
