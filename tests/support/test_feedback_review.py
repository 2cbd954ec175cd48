"""Feedback review: thumbs up/down take an optional comment; agents review unhelpful,
handed-over and flagged answers, each linked to its conversation."""

from __future__ import annotations

import pytest

from apps.support import services
from apps.support.models import Message

from .helpers import api_client

pytestmark = pytest.mark.django_db


def _rate(conversation, reply, payload):
    return api_client().post(
        f"/api/support/chat/{conversation.token}/messages/{reply.pk}/rate/", payload, format="json"
    )


def test_a_rating_keeps_the_customers_comment(kb, answered):
    conversation, reply = answered()

    response = _rate(conversation, reply, {"rating": "down", "comment": "  It took 3 weeks! "})

    reply.refresh_from_db()
    assert response.status_code == 200
    assert (reply.rating, reply.rating_comment) == ("down", "It took 3 weeks!")


def test_a_rating_without_a_comment_still_counts(kb, answered):
    conversation, reply = answered()

    response = _rate(conversation, reply, {"rating": "up"})

    reply.refresh_from_db()
    assert response.status_code == 200
    assert (reply.rating, reply.rating_comment) == ("up", "")


def test_a_too_long_comment_is_refused_and_the_earlier_rating_kept(kb, answered):
    conversation, reply = answered()
    _rate(conversation, reply, {"rating": "up", "comment": "clear"})

    response = _rate(conversation, reply, {"rating": "down", "comment": "x" * 501})

    reply.refresh_from_db()
    assert response.status_code == 400 and "comment" in response.json()
    assert (reply.rating, reply.rating_comment) == ("up", "clear")


def test_the_service_refuses_a_comment_that_is_not_text(kb, answered):
    conversation, reply = answered()

    with pytest.raises(services.InvalidText):
        services.message_rate(
            conversation_id=conversation.pk, message_id=reply.pk, rating="down", comment=["x"]
        )


@pytest.fixture
def reviewed(kb, agent, answered):
    unhelpful_conv, unhelpful = answered()
    services.message_rate(
        conversation_id=unhelpful_conv.pk,
        message_id=unhelpful.pk,
        rating="down",
        comment="wrong card",
    )
    flagged_conv, flagged = answered("How do I change my PIN?")
    services.message_flag(message_id=flagged.pk, agent=agent, flag="outdated", note="new menu")
    _, liked = answered("Where can I track my card?")
    services.message_rate(conversation_id=liked.conversation_id, message_id=liked.pk, rating="up")
    handed_conv, handed = answered("I want to talk to a human please")
    return {
        "unhelpful": (unhelpful_conv, unhelpful),
        "flagged": (flagged_conv, flagged),
        "handed_over": (handed_conv, handed),
        "liked": liked,
    }


@pytest.mark.parametrize("which", ["unhelpful", "flagged", "handed_over"])
def test_each_filter_lists_its_answers_linked_to_their_conversations(reviewed, agent_api, which):
    conversation, message = reviewed[which]

    response = agent_api.get("/api/support/review/", {"filter": which})

    rows = response.json()
    assert response.status_code == 200
    assert [row["message_id"] for row in rows] == [message.pk]
    assert rows[0]["conversation_url"] == f"/support/conversations/{conversation.pk}/"
    assert which in rows[0]["reasons"]


def test_the_whole_list_has_every_reviewable_answer_but_no_liked_one(reviewed, agent_api):
    rows = agent_api.get("/api/support/review/").json()

    ids = {row["message_id"] for row in rows}
    assert ids == {reviewed[k][1].pk for k in ("unhelpful", "flagged", "handed_over")}
    unhelpful = next(r for r in rows if r["message_id"] == reviewed["unhelpful"][1].pk)
    assert unhelpful["rating_comment"] == "wrong card"
    assert unhelpful["question"] == "How long does card delivery take?"
    handed = next(r for r in rows if r["message_id"] == reviewed["handed_over"][1].pk)
    assert handed["handoff_reason"] == "customer_asked"


def test_an_unknown_filter_is_a_400_naming_the_parameter(reviewed, agent_api):
    response = agent_api.get("/api/support/review/", {"filter": "angry"})

    assert response.status_code == 400 and "filter" in response.json()


def test_the_review_list_is_for_agents_only(reviewed):
    assert api_client().get("/api/support/review/").status_code in (401, 403)


def test_the_review_page_links_each_answer_to_its_conversation(reviewed, agent, client):
    client.force_login(agent)
    conversation, _ = reviewed["unhelpful"]

    page = client.get("/support/review/?filter=unhelpful")
    unknown = client.get("/support/review/?filter=angry")

    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="/support/conversations/{conversation.pk}/"' in html
    assert "wrong card" in html
    assert html.count('data-testid="review-row"') == 1
    assert unknown.status_code == 400 and "Unknown filter" in unknown.content.decode()
    assert Message.objects.filter(rating="down").count() == 1
