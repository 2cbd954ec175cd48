"""Audit 6 of the support app: the customer's chat survives malformed frames and server errors
(one shared guard with the console), refused messages say which one, ratings are checked, the
chat is rate limited on every channel, half an emoji is stored, and citations follow
the articles they point at."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from apps.support import services
from apps.support.consumers import MAX_FRAME_CHARS
from apps.support.models import Article, Conversation, Message

from .sockets import console_socket as _console
from .sockets import consumer_test
from .sockets import customer_socket as _customer
from .sockets import receive_until as _receive_until


def _is_error(event: dict[str, Any]) -> bool:
    return event["type"] == "error"


async def _frames_then_message(
    comm: WebsocketCommunicator, frames: list[dict[str, Any]], text: str, client_id: str
) -> tuple[list[Any], Any]:
    """Send each raw frame, collect the error each one gets, then send a real message: the
    same connection must still store and acknowledge it."""
    errors = []
    for frame in frames:
        await comm.send_input({"type": "websocket.receive", **frame})
        errors.append(await _receive_until(comm, _is_error))
    await comm.send_json_to({"type": "message", "text": text, "client_id": client_id})
    ack = await _receive_until(comm, lambda e: e["type"] == "ack")
    return errors, ack


def _asked(kb: Any, text: str = "How long does card delivery take?") -> Conversation:
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text=text)
    return conversation


# -- 1. the customer's chat: malformed frames and server errors are answered, never fatal --------
MALFORMED = [
    ({"text": "hello, not json"}, "invalid"),
    ({"text": ""}, "invalid"),
    ({"bytes": b"\x00\x01binary"}, "invalid"),
    ({"text": json.dumps([1, 2, 3])}, "invalid"),
    ({"text": json.dumps({"type": "message", "text": "x" * MAX_FRAME_CHARS})}, "too_large"),
    ({"text": json.dumps({"type": "dance"})}, "invalid"),
    ({"text": json.dumps({"type": "rate", "message_id": "abc", "rating": "up"})}, "invalid"),
    ({"text": '{"type": "rate", "message_id": 1e400, "rating": "up"}'}, "invalid"),
    ({"text": json.dumps({"type": "message", "text": ["a list"]})}, "invalid"),
    ({"text": json.dumps({"type": "message", "text": "y" * 2001})}, "invalid"),
    ({"text": "[" * 30000 + "]" * 30000}, "invalid"),
]


@consumer_test
def test_malformed_customer_frames_get_an_error_and_the_chat_goes_on(kb):
    conversation = services.conversation_start(kb_id=kb.pk)

    errors, ack = async_to_sync(_malformed_frames)(conversation.token)

    assert [e["code"] for e in errors] == [code for _, code in MALFORMED]
    assert all(e["message"] for e in errors)
    assert "too large" in errors[4]["message"]
    assert "Unknown message type" in errors[5]["message"]
    assert "too long" in errors[9]["message"]
    stored = Message.objects.get(pk=ack["id"])
    assert stored.text == "Still there?" and stored.sender == "customer"


async def _malformed_frames(token: Any) -> tuple[list[Any], Any]:
    comm = _customer(token)
    connected, _ = await comm.connect()
    assert connected
    await comm.receive_json_from()
    try:
        return await _frames_then_message(
            comm, [frame for frame, _ in MALFORMED], "Still there?", "after-bad"
        )
    finally:
        await comm.disconnect()


@consumer_test
def test_a_server_error_is_an_error_frame_and_nothing_stored_is_lost(kb, monkeypatch):
    conversation = services.conversation_start(kb_id=kb.pk)

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("database went away")

    # Asking for a human fails server-side; so does the bot's answer to the first message.
    monkeypatch.setattr(services, "conversation_handoff", broken)
    monkeypatch.setattr(services, "bot_reply_or_handoff", broken)

    human_error, first_ack, answer_error = async_to_sync(_server_errors)(conversation.token)

    assert human_error["code"] == "server_error" and "try again" in human_error["message"]
    assert answer_error["code"] == "server_error"
    # The question was stored before the answer failed, and the connection still took the next.
    texts = list(
        Message.objects.filter(conversation=conversation, sender="customer").values_list(
            "text", flat=True
        )
    )
    assert texts == ["Where is my card?", "Hello again"]
    assert first_ack["client_id"] == "q1"


async def _server_errors(token: Any) -> tuple[Any, Any, Any]:
    comm = _customer(token)
    await comm.connect()
    await comm.receive_json_from()
    try:
        await comm.send_json_to({"type": "human"})
        human_error = await _receive_until(comm, _is_error)
        await comm.send_json_to({"type": "message", "text": "Where is my card?", "client_id": "q1"})
        first_ack = await _receive_until(comm, lambda e: e["type"] == "ack")
        answer_error = await _receive_until(comm, _is_error)
        await comm.send_json_to({"type": "message", "text": "Hello again", "client_id": "q2"})
        await _receive_until(comm, lambda e: e["type"] == "ack")
    finally:
        await comm.disconnect()
    return human_error, first_ack, answer_error


@consumer_test
def test_a_refused_message_names_its_client_id(kb):
    conversation = services.conversation_start(kb_id=kb.pk)

    error = async_to_sync(_refused)(conversation.token)

    assert error["code"] == "invalid" and "empty" in error["message"]
    assert error["client_id"] == "blank-1"


async def _refused(token: Any) -> Any:
    comm = _customer(token)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_json_to({"type": "message", "text": "   ", "client_id": "blank-1"})
    error = await _receive_until(comm, _is_error)
    await comm.disconnect()
    return error


@consumer_test
def test_a_message_to_a_conversation_deleted_meanwhile_asks_for_a_new_one(kb):
    conversation = services.conversation_start(kb_id=kb.pk)

    error = async_to_sync(_deleted_under_customer)(conversation)

    # "closed": the widget starts a new conversation and sends the message there.
    assert error["code"] == "closed" and "no longer exists" in error["message"]
    assert error["client_id"] == "late-1"


async def _deleted_under_customer(conversation: Conversation) -> Any:
    comm = _customer(conversation.token)
    await comm.connect()
    await comm.receive_json_from()
    await database_sync_to_async(Conversation.objects.filter(pk=conversation.pk).delete)()
    await comm.send_json_to({"type": "message", "text": "Anyone?", "client_id": "late-1"})
    error = await _receive_until(comm, _is_error)
    await comm.disconnect()
    return error


@consumer_test
def test_the_console_survives_malformed_frames_too(kb, agent):
    conversation = _asked(kb)

    errors, note = async_to_sync(_console_malformed)(agent, conversation.pk)

    assert [e["code"] for e in errors] == ["invalid", "invalid", "too_large", "invalid"]
    assert note["message"]["text"] == "Still here"


async def _console_malformed(agent: Any, conversation_id: int) -> tuple[list[Any], Any]:
    console = _console(agent)
    await console.connect()
    await _receive_until(console, lambda e: e["type"] == "queue")
    errors = []
    for frame in (
        {"text": "not json {"},
        {"bytes": b"\xff\xfe"},
        {"text": json.dumps({"type": "note", "text": "z" * MAX_FRAME_CHARS})},
        {"text": '{"type": "flag", "message_id": 1e400, "flag": "incorrect"}'},
    ):
        await console.send_input({"type": "websocket.receive", **frame})
        errors.append(await _receive_until(console, _is_error))
    await console.send_json_to({"type": "open", "conversation_id": conversation_id})
    await _receive_until(console, lambda e: e["type"] == "transcript")
    await console.send_json_to({"type": "note", "text": "Still here"})
    note = await _receive_until(
        console, lambda e: e["type"] == "message" and e["message"]["sender"] == "note"
    )
    await console.disconnect()
    return errors, note


# -- 2. ratings: a whole number 1-5, and only the bot's answers ------------------------------
def test_a_conversation_rating_must_be_a_number_not_true(kb):
    conversation = _asked(kb)
    services.conversation_close(conversation_id=conversation.pk)

    not_text: Any = {"x": 1}
    with pytest.raises(services.InvalidText):
        services.csat_submit(conversation_id=conversation.pk, score=True)
    with pytest.raises(services.InvalidText):
        services.csat_submit(conversation_id=conversation.pk, score=4, comment=not_text)
    ok = services.csat_submit(conversation_id=conversation.pk, score=4, comment=" Quick\x07 ")

    conversation.refresh_from_db()
    assert ok and conversation.csat == 4 and conversation.csat_comment == "Quick"


@consumer_test
def test_rating_true_over_the_websocket_is_refused_and_a_real_rating_is_taken(kb):
    conversation = _asked(kb)
    services.conversation_close(conversation_id=conversation.pk)

    refused, thanks = async_to_sync(_csat_over_websocket)(conversation.token)

    conversation.refresh_from_db()
    assert refused["type"] == "error" and "1 to 5" in refused["message"]
    assert thanks["type"] == "csat_thanks" and conversation.csat == 5


async def _csat_over_websocket(token: Any) -> tuple[Any, Any]:
    comm = _customer(token)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_json_to({"type": "csat", "score": True})
    refused = await _receive_until(comm, lambda e: e["type"].startswith(("error", "csat")))
    await comm.send_json_to({"type": "csat", "score": 5})
    thanks = await _receive_until(comm, lambda e: e["type"].startswith("csat"))
    await comm.disconnect()
    return refused, thanks


def test_only_the_bots_answers_can_be_rated(kb):
    conversation = services.conversation_start(kb_id=kb.pk)
    greeting = conversation.messages.get()
    question, _ = services.customer_message_post(
        conversation_id=conversation.pk, text="How long does card delivery take?"
    )
    answer = services.bot_reply(conversation_id=conversation.pk, message_id=question.pk)
    client = APIClient()
    base = f"/api/support/chat/{conversation.token}/messages"

    on_greeting = client.post(f"{base}/{greeting.pk}/rate/", {"rating": "down"}, format="json")
    on_answer = client.post(f"{base}/{answer.pk}/rate/", {"rating": "up"}, format="json")

    greeting.refresh_from_db()
    answer.refresh_from_db()
    assert on_greeting.status_code == 404 and greeting.rating == ""
    assert on_answer.status_code == 200 and answer.rating == "up"


@consumer_test
def test_rating_something_that_is_no_answer_over_the_websocket_says_so(kb):
    conversation = services.conversation_start(kb_id=kb.pk)
    greeting = conversation.messages.get()

    reply = async_to_sync(_rate_over_websocket)(conversation.token, greeting.pk)

    greeting.refresh_from_db()
    assert reply["type"] == "error" and "answers" in reply["message"]
    assert greeting.rating == ""


async def _rate_over_websocket(token: Any, message_id: int) -> Any:
    comm = _customer(token)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_json_to({"type": "rate", "message_id": message_id, "rating": "down"})
    reply = await _receive_until(comm, lambda e: e["type"] in ("error", "rated"))
    await comm.disconnect()
    return reply


# -- 3. the chat is rate limited, on the REST API and the websocket alike ----------------------
def test_a_customer_flooding_the_rest_chat_is_told_to_slow_down(kb):
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text="first", client_id="c0")
    for i in range(1, services.CUSTOMER_MESSAGES_PER_MINUTE):
        services.customer_message_post(conversation_id=conversation.pk, text=f"spam {i}")
    url = f"/api/support/chat/{conversation.token}/messages/"

    flood = APIClient().post(url, {"text": "one more", "client_id": "x"}, format="json")
    resend = APIClient().post(url, {"text": "first", "client_id": "c0"}, format="json")

    assert flood.status_code == 429 and "too quickly" in flood.json()["detail"]
    assert resend.status_code == 200 and resend.json()["duplicate"] is True
    assert not Message.objects.filter(conversation=conversation, text="one more").exists()


@consumer_test
def test_a_customer_flooding_the_websocket_is_told_which_message_was_not_sent(kb):
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text="first", client_id="c0")
    for i in range(1, services.CUSTOMER_MESSAGES_PER_MINUTE):
        services.customer_message_post(conversation_id=conversation.pk, text=f"spam {i}")

    error, duplicate = async_to_sync(_flood)(conversation.token)

    assert error["code"] == "rate_limited" and error["client_id"] == "c-over"
    # A resend of a message already stored is still acknowledged, not refused.
    assert duplicate["type"] == "ack" and duplicate["duplicate"] is True
    assert not Message.objects.filter(conversation=conversation, client_id="c-over").exists()


async def _flood(token: Any) -> tuple[Any, Any]:
    comm = _customer(token)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_json_to({"type": "message", "text": "over", "client_id": "c-over"})
    error = await _receive_until(comm, _is_error)
    await comm.send_json_to({"type": "message", "text": "first", "client_id": "c0"})
    duplicate = await _receive_until(comm, lambda e: e["type"] == "ack")
    await comm.disconnect()
    return error, duplicate


# -- 4. half an emoji (a lone UTF-16 surrogate) is stored, not "could not be understood" ------
@consumer_test
def test_a_chat_message_with_half_an_emoji_is_stored(kb):
    conversation = services.conversation_start(kb_id=kb.pk)
    frame = '{"type": "message", "text": "card \\ud83d arrived? \\ud83d\\ude00", "client_id": "u1"}'

    ack = async_to_sync(_raw_message)(conversation.token, frame)

    assert ack["type"] == "ack", ack
    assert Message.objects.get(pk=ack["id"]).text == "card \ufffd arrived? \U0001f600"


async def _raw_message(token: Any, frame: str) -> Any:
    comm = _customer(token)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_to(text_data=frame)
    reply = await _receive_until(comm, lambda e: e["type"] in ("ack", "error"))
    await comm.disconnect()
    return reply


# -- 5. citations follow the articles: renamed, unpublished, deleted --------------------------
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
    comm = _customer(token)
    await comm.connect()
    history = await comm.receive_json_from()
    await comm.disconnect()
    return history


@consumer_test
def test_a_refused_agent_reply_names_its_client_id_so_the_console_keeps_the_text(kb, agent):
    from apps.accounts.services import user_create

    colleague = user_create(username="sam", password="sam-pass-1234", roles=["support_agent"])
    conversation = _asked(kb)
    services.conversation_take_over(conversation_id=conversation.pk, agent=colleague)

    error = async_to_sync(_reply_to_colleagues)(agent, conversation.pk)

    assert error["code"] == "not_allowed" and error["client_id"] == "r1"
    assert not Message.objects.filter(conversation=conversation, sender="agent").exists()


async def _reply_to_colleagues(agent: Any, conversation_id: int) -> Any:
    console = _console(agent)
    await console.connect()
    await _receive_until(console, lambda e: e["type"] == "queue")
    await console.send_json_to(
        {
            "type": "message",
            "conversation_id": conversation_id,
            "text": "Let me help",
            "client_id": "r1",
        }
    )
    error = await _receive_until(console, _is_error)
    await console.disconnect()
    return error


# -- 6. the conversation list's ?kb= filter (documented, but ignored) ---------------------------
def test_the_conversation_list_filters_by_knowledge_base(kb, agent):
    other_kb = services.knowledge_base_ensure(name="Other help centre")
    ours = _asked(kb)
    theirs = services.conversation_start(kb_id=other_kb.pk)
    services.customer_message_post(conversation_id=theirs.pk, text="Other question")
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(agent)

    mine = client.get(f"/api/support/conversations/?kb={kb.pk}")
    other = client.get(f"/api/support/conversations/?kb={other_kb.pk}&status=bot")
    bad = client.get("/api/support/conversations/?kb=main")

    assert [c["id"] for c in mine.json()["results"]] == [ours.pk]
    assert [c["id"] for c in other.json()["results"]] == [theirs.pk]
    assert bad.status_code == 400 and "kb" in bad.json()


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


def test_asking_the_bot_does_not_spend_the_budget_for_starting_chats(kb, client):
    from django.core.cache import cache

    cache.clear()
    asked = [
        client.post("/api/support/ask/", {"question": "How do I reset my card PIN?"}).status_code
        for _ in range(31)
    ]
    started = client.post("/api/support/chat/", {}, content_type="application/json")

    assert asked[:30] == [200] * 30 and asked[30] == 429
    assert started.status_code == 201
    cache.clear()
