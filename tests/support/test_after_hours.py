"""Out of business hours: the handoff says when a person answers and collects an email address
instead of queueing; agents answer these conversations by email from the console; staff edit
the hours on a page with clear errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import async_to_sync
from django.core import mail
from django.core.mail import EmailMessage
from django.utils import timezone

from apps.support import selectors, services
from apps.support.answers import Answer
from apps.support.models import Conversation, Message
from apps.support.services import replies

from .helpers import api_client
from .sockets import console_socket, consumer_test, receive_until

pytestmark = pytest.mark.django_db
ZONE = "America/New_York"
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _closed_today_and_tomorrow(kb):
    """Hours 09:00-17:00 every day, with today and tomorrow (in the KB's zone) holidays: closed
    now, next opening the day after tomorrow at 09:00. Returns that day."""
    today = timezone.now().astimezone(ZoneInfo(ZONE)).date()
    services.knowledge_base_hours_update(
        kb_id=kb.pk,
        time_zone=ZONE,
        opening_hours={day: ["09:00-17:00"] for day in EVERY_DAY},
        holidays=[today.isoformat(), (today + timedelta(days=1)).isoformat()],
    )
    return today + timedelta(days=2)


@pytest.fixture
def closed_kb(kb):
    kb.opening_day = _closed_today_and_tomorrow(kb)
    return kb


def _expected_when(day):
    return f"on {day:%A} {day.day} {day:%B} at 09:00 ({ZONE} time)"


def test_asking_for_a_person_out_of_hours_says_when_and_asks_for_an_email(closed_kb):
    conversation = services.conversation_start(kb_id=closed_kb.pk)

    asked = services.conversation_human_request(conversation_id=conversation.pk)

    conversation.refresh_from_db()
    assert asked.outcome == "email"
    assert f"A person will answer {_expected_when(closed_kb.opening_day)}." in asked.text
    assert "email address" in asked.text
    assert conversation.status == Conversation.Status.EMAIL
    # Not queued for a live agent: no queue place, no "no agent online" notice.
    assert selectors.queue_place(conversation_id=conversation.pk) is None
    assert not Message.objects.filter(
        conversation=conversation, answer_kind__in=["queue", "no_agent"]
    ).exists()


def test_asking_again_out_of_hours_repeats_the_email_answer(closed_kb):
    conversation = services.conversation_start(kb_id=closed_kb.pk)
    services.conversation_human_request(conversation_id=conversation.pk)

    again = services.conversation_human_request(conversation_id=conversation.pk)

    assert (again.outcome, again.text) == ("email", services.ALREADY_BY_EMAIL_TEXT)


def test_in_hours_the_handoff_joins_the_live_queue(kb):
    services.knowledge_base_hours_update(
        kb_id=kb.pk,
        time_zone=ZONE,
        opening_hours={day: ["00:00-24:00"] for day in EVERY_DAY},
        holidays=[],
    )
    conversation = services.conversation_start(kb_id=kb.pk)

    asked = services.conversation_human_request(conversation_id=conversation.pk)

    conversation.refresh_from_db()
    assert asked.outcome == "queued" and conversation.status == Conversation.Status.WAITING


def test_the_bots_own_handoff_out_of_hours_collects_an_email_too(closed_kb, ask):
    conversation = services.conversation_start(kb_id=closed_kb.pk)

    reply = ask(conversation, "I want to talk to a human please")

    assert reply.answer_kind == "after_hours"
    assert _expected_when(closed_kb.opening_day) in reply.text
    assert conversation.status == Conversation.Status.EMAIL


def test_the_email_address_is_validated_then_kept_and_confirmed(closed_kb, ask):
    conversation = services.conversation_start(kb_id=closed_kb.pk)
    services.conversation_human_request(conversation_id=conversation.pk)

    refused = ask(conversation, "it's jo@@example")
    taken = ask(conversation, "Sure: jo.doe@example.com.")
    quiet = ask(conversation, "Also, my card number ends in 42")

    assert refused.answer_kind == "email_ask"
    assert "doesn't look like an email address" in refused.text
    assert taken.answer_kind == "email_taken"
    assert "answer by email to jo.doe@example.com" in taken.text
    assert conversation.customer_email == "jo.doe@example.com"
    assert quiet is None  # stored for the agent, no bot reply
    assert conversation.messages.filter(text__contains="ends in 42").exists()


def test_a_low_confidence_handoff_out_of_hours_keeps_the_bots_scores(closed_kb, ask, monkeypatch):
    unsure = Answer(
        "I'm not sure", "handoff", 0.21, 0.3, True, "low_confidence", sources=({"chunk_id": 1},)
    )
    monkeypatch.setattr(replies, "answer_compose", lambda **kwargs: unsure)
    conversation = services.conversation_start(kb_id=closed_kb.pk)

    reply = ask(conversation, "Something the bot is unsure about")

    assert reply.answer_kind == "after_hours"
    assert "Our team is away" in reply.text
    assert (reply.confidence, reply.sources) == (0.21, [{"chunk_id": 1}])
    assert conversation.handoff_reason == "low_confidence"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("mail me at a.b+c@example.co.uk!", "a.b+c@example.co.uk"),
        ("<jo@example.com>", "jo@example.com"),
        ("jo@localhost", None),
        ("no address here", None),
    ],
)
def test_an_address_is_found_in_what_the_customer_typed(text, found):
    assert services.email_address_find(text) == found


def test_the_widget_gets_the_away_text_and_status_over_the_chat_api(closed_kb):
    conversation = services.conversation_start(kb_id=closed_kb.pk)
    client = api_client()

    human = client.post(f"/api/support/chat/{conversation.token}/human/")
    posted = client.post(
        f"/api/support/chat/{conversation.token}/messages/",
        {"text": "jo@example.com", "client_id": "c1"},
        format="json",
    )

    assert human.status_code == 200
    assert human.json()["outcome"] == "email" and not human.json()["ok"]
    assert _expected_when(closed_kb.opening_day) in human.json()["message"]
    assert posted.status_code == 201 and posted.json()["status"] == "email"
    assert "answer by email to jo@example.com" in posted.json()["reply"]["text"]


@pytest.fixture
def left_email(closed_kb, ask):
    conversation = services.conversation_start(kb_id=closed_kb.pk)
    services.conversation_human_request(conversation_id=conversation.pk)
    ask(conversation, "How do I unblock my PIN?")
    ask(conversation, "jo@example.com")
    return conversation


def test_agents_see_email_conversations_in_the_console_list(left_email, agent_api):
    listed = agent_api.get("/api/support/conversations/", {"status": "email"}).json()["results"]
    queue = selectors.queue_list()

    assert [row["id"] for row in listed] == [left_email.pk]
    assert listed[0]["customer_email"] == "jo@example.com"
    row = next(row for row in queue if row["id"] == left_email.pk)
    assert row["status"] == "email" and "jo@example.com" in row["customer"]


def test_an_agent_answers_by_email_from_the_console(left_email, agent, agent_api):
    response = agent_api.post(
        f"/api/support/conversations/{left_email.pk}/email-reply/",
        {"text": "Open the app, Card settings, Unblock PIN."},
        format="json",
    )

    left_email.refresh_from_db()
    assert response.status_code == 201
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["jo@example.com"]
    assert "Open the app, Card settings, Unblock PIN." in sent.body
    assert "> How do I unblock my PIN?" in sent.body
    assert left_email.status == Conversation.Status.CLOSED
    transcript = list(left_email.messages.values_list("sender", "text"))
    assert ("agent", "Open the app, Card settings, Unblock PIN.") in transcript
    assert ("system", f"{agent} answered by email to jo@example.com.") in transcript


def test_without_an_address_nothing_is_sent(closed_kb, agent_api):
    conversation = services.conversation_start(kb_id=closed_kb.pk)
    services.conversation_human_request(conversation_id=conversation.pk)

    response = agent_api.post(
        f"/api/support/conversations/{conversation.pk}/email-reply/", {"text": "Hi"}, format="json"
    )

    assert response.status_code == 409
    assert "not left an email address" in response.json()["detail"]
    assert mail.outbox == []


def test_a_failing_mail_server_loses_nothing(left_email, agent_api, monkeypatch):
    def refuse(self, fail_silently=False):
        raise OSError("connection refused")

    monkeypatch.setattr(EmailMessage, "send", refuse)
    before = left_email.messages.count()

    response = agent_api.post(
        f"/api/support/conversations/{left_email.pk}/email-reply/", {"text": "Hi"}, format="json"
    )

    left_email.refresh_from_db()
    assert response.status_code == 502 and "could not be sent" in response.json()["detail"]
    assert left_email.status == Conversation.Status.EMAIL
    assert left_email.messages.count() == before


@consumer_test
def test_the_console_answers_by_email_over_its_socket(kb, agent):
    _closed_today_and_tomorrow(kb)
    conversation = services.conversation_start(kb_id=kb.pk)
    services.conversation_human_request(conversation_id=conversation.pk)
    services.customer_message_post(conversation_id=conversation.pk, text="jo@example.com")
    services.bot_reply(conversation_id=conversation.pk, message_id=conversation.messages.last().pk)

    sent = async_to_sync(_email_over_socket)(agent, conversation.pk)

    conversation.refresh_from_db()
    assert sent["conversation_id"] == conversation.pk
    assert [m.to for m in mail.outbox] == [["jo@example.com"]]
    assert conversation.status == Conversation.Status.CLOSED


async def _email_over_socket(agent: Any, conversation_id: int) -> Any:
    console = console_socket(agent)
    await console.connect()
    await receive_until(console, lambda e: e["type"] == "queue")
    await console.send_json_to(
        {"type": "email_reply", "conversation_id": conversation_id, "text": "Here you go."}
    )
    try:
        return await receive_until(console, lambda e: e["type"] in ("email_sent", "error"))
    finally:
        await console.disconnect()


# -- the staff page ------------------------------------------------------------------------------
def _form(**changes):
    data = {"time_zone": "Europe/London", "holidays": "2026-12-25\n"}
    data.update({day: "" for day in EVERY_DAY})
    data.update({"mon": "09:00-12:00, 13:00-17:00", "fri": "22:00-02:00"})
    data.update(changes)
    return data


def test_staff_save_the_hours_on_their_page(kb, agent, client):
    client.force_login(agent)

    response = client.post(f"/support/knowledge-bases/{kb.pk}/hours/", _form())
    page = client.get(f"/support/knowledge-bases/{kb.pk}/hours/")

    kb.refresh_from_db()
    assert response.status_code == 302
    assert kb.time_zone == "Europe/London"
    assert kb.opening_hours == {"mon": ["09:00-12:00", "13:00-17:00"], "fri": ["22:00-02:00"]}
    assert kb.holidays == ["2026-12-25"]
    assert 'value="09:00-12:00, 13:00-17:00"' in page.content.decode()


def test_bad_hours_get_clear_errors_and_save_nothing(kb, agent, client):
    client.force_login(agent)

    response = client.post(
        f"/support/knowledge-bases/{kb.pk}/hours/",
        _form(time_zone="Mars/Olympus", tue="9-5", holidays="2026-02-30"),
    )

    kb.refresh_from_db()
    body = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved" in body
    assert "is not a time zone name" in body
    assert "Tuesday: &quot;9-5&quot; is not a time range like 09:00-17:00." in body
    assert "&quot;2026-02-30&quot; is not a date" in body
    assert (kb.time_zone, kb.opening_hours, kb.holidays) == ("UTC", {}, [])


def test_customers_cannot_open_the_hours_page(kb, client):
    response = client.get(f"/support/knowledge-bases/{kb.pk}/hours/")

    assert response.status_code in (302, 403)
