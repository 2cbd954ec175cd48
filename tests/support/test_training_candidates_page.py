"""The training candidates page: agents accept, correct (choose the intent) or reject proposed
intent training rows, with filters and pages; no confirmation step."""

from __future__ import annotations

import pytest

from apps.support.models import PastConversation, TrainingCandidate

from .factories import TrainingCandidateFactory

pytestmark = pytest.mark.django_db
PAGE = "/support/training/"


@pytest.fixture
def signed_in(client, agent):
    client.force_login(agent)
    return client


def _review(client, candidate, action, **extra):
    return client.post(
        f"{PAGE}{candidate.pk}/",
        {"action": action, "next": f"{PAGE}?kb={candidate.kb_id}", **extra},
        follow=True,
    )


def test_the_page_lists_rows_to_review_and_is_linked_from_the_support_navigation(signed_in, kb):
    waiting = TrainingCandidateFactory(conversation__kb=kb, question="Where is my new card?")
    TrainingCandidateFactory(
        conversation__kb=kb, question="Old one", status=TrainingCandidate.Status.ACCEPTED
    )

    page = signed_in.get(PAGE, {"kb": kb.pk})
    knowledge = signed_in.get("/support/knowledge/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Where is my new card?" in html
    assert "Old one" not in html  # reviewed already: under "Accepted"
    assert f'action="{PAGE}{waiting.pk}/"' in html
    assert "To review (1)" in html and "Accepted (1)" in html
    assert f'href="{PAGE}"' in knowledge.content.decode()


def test_accept_files_the_question_under_the_predicted_intent(signed_in, kb, agent):
    candidate = TrainingCandidateFactory(conversation__kb=kb, intent="card_arrival")

    response = _review(signed_in, candidate, "accept")

    candidate.refresh_from_db()
    assert candidate.status == TrainingCandidate.Status.ACCEPTED
    assert candidate.reviewed_by == agent
    assert PastConversation.objects.get(kb=kb, question=candidate.question).intent == (
        "card_arrival"
    )
    assert response.redirect_chain[-1][0] == f"{PAGE}?kb={kb.pk}"
    assert "the next intent training uses it" in response.content.decode()


def test_correct_files_it_under_the_intent_the_agent_chose(signed_in, kb):
    candidate = TrainingCandidateFactory(conversation__kb=kb, intent="card_arrival")

    _review(signed_in, candidate, "correct", intent="change_pin")

    candidate.refresh_from_db()
    assert (candidate.status, candidate.intent) == ("accepted", "change_pin")
    assert PastConversation.objects.get(question=candidate.question).intent == "change_pin"


def test_an_intent_not_in_the_list_is_refused_and_the_row_stays(signed_in, kb):
    candidate = TrainingCandidateFactory(conversation__kb=kb)

    response = _review(signed_in, candidate, "correct", intent="made_up_intent")

    candidate.refresh_from_db()
    assert candidate.status == TrainingCandidate.Status.PROPOSED
    assert "Choose the intent from the list" in response.content.decode()
    assert not PastConversation.objects.filter(question=candidate.question).exists()


def test_reject_keeps_it_out_of_training(signed_in, kb):
    candidate = TrainingCandidateFactory(conversation__kb=kb)

    response = _review(signed_in, candidate, "reject")

    candidate.refresh_from_db()
    assert candidate.status == TrainingCandidate.Status.REJECTED
    assert not PastConversation.objects.filter(question=candidate.question).exists()
    assert "it stays out of training" in response.content.decode()


def test_a_row_reviewed_meanwhile_is_left_as_it_is(signed_in, kb):
    candidate = TrainingCandidateFactory(
        conversation__kb=kb, status=TrainingCandidate.Status.REJECTED
    )

    response = _review(signed_in, candidate, "accept")

    candidate.refresh_from_db()
    assert candidate.status == TrainingCandidate.Status.REJECTED
    assert "already" in response.content.decode()


def test_filters_by_source_intent_and_words(signed_in, kb):
    TrainingCandidateFactory(conversation__kb=kb, question="Card still not here", intent="a1")
    TrainingCandidateFactory(
        conversation__kb=kb,
        question="Reset my PIN",
        intent="change_pin",
        source=TrainingCandidate.Source.AGENT_CONFIRMED,
    )

    by_source = signed_in.get(PAGE, {"kb": kb.pk, "source": "agent_confirmed"}).content.decode()
    by_intent = signed_in.get(PAGE, {"kb": kb.pk, "intent": "a1"}).content.decode()
    by_words = signed_in.get(PAGE, {"kb": kb.pk, "q": "pin"}).content.decode()

    assert "Reset my PIN" in by_source and "Card still not here" not in by_source
    assert "Card still not here" in by_intent and "Reset my PIN" not in by_intent
    assert "Reset my PIN" in by_words and "Card still not here" not in by_words


def test_an_unknown_filter_is_a_400_that_says_so(signed_in, kb):
    TrainingCandidateFactory(conversation__kb=kb, question="Hidden while the filter is wrong")

    response = signed_in.get(PAGE, {"kb": kb.pk, "status": "maybe"})

    assert response.status_code == 400
    assert "Unknown status" in response.content.decode()
    assert "Hidden while the filter is wrong" not in response.content.decode()


def test_rows_come_in_pages_that_keep_the_filters(signed_in, kb):
    TrainingCandidateFactory.create_batch(30, conversation__kb=kb, intent="card_arrival")

    first = signed_in.get(PAGE, {"kb": kb.pk, "intent": "card_arrival"})
    second = signed_in.get(PAGE, {"kb": kb.pk, "intent": "card_arrival", "page": 2})

    assert first.content.decode().count('data-testid="candidate-row"') == 25
    assert second.content.decode().count('data-testid="candidate-row"') == 5
    assert "intent=card_arrival&amp;page=2" in first.content.decode()
    assert "Page 2 of 2" in second.content.decode()


def test_the_way_back_never_leaves_the_site(signed_in, kb):
    candidate = TrainingCandidateFactory(conversation__kb=kb)

    response = signed_in.post(
        f"{PAGE}{candidate.pk}/", {"action": "reject", "next": "https://evil.example.com/"}
    )

    assert response.status_code == 302
    assert response["Location"] == PAGE


def test_customers_cannot_open_the_page(client, kb, django_user_model):
    client.force_login(django_user_model.objects.create_user("cus", password="pw-123-456-x"))
    candidate = TrainingCandidateFactory(conversation__kb=kb)

    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}{candidate.pk}/", {"action": "reject"}).status_code == 403
    candidate.refresh_from_db()
    assert candidate.status == TrainingCandidate.Status.PROPOSED
