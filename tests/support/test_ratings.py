"""Ratings: a conversation's rating is a whole number 1-5, only the bot's answers can be rated,
the server confirms each rating (a refused one says which), and a reload knows it was rated."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from apps.support import services

from .helpers import conversation_asked
from .sockets import consumer_test, customer_socket, frame_answer, receive_until


def test_a_conversation_rating_must_be_a_number_not_true(kb):
    conversation = conversation_asked(kb, "How long does card delivery take?")
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
    conversation = conversation_asked(kb, "How long does card delivery take?")
    services.conversation_close(conversation_id=conversation.pk)

    refused, thanks = async_to_sync(_csat_over_websocket)(conversation.token)

    conversation.refresh_from_db()
    assert refused["type"] == "error" and "1 to 5" in refused["message"]
    assert thanks["type"] == "csat_thanks" and conversation.csat == 5


async def _csat_over_websocket(token: Any) -> tuple[Any, Any]:
    comm = customer_socket(token)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_json_to({"type": "csat", "score": True})
    refused = await receive_until(comm, lambda e: e["type"].startswith(("error", "csat")))
    await comm.send_json_to({"type": "csat", "score": 5})
    thanks = await receive_until(comm, lambda e: e["type"].startswith("csat"))
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
    comm = customer_socket(token)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_json_to({"type": "rate", "message_id": message_id, "rating": "down"})
    reply = await receive_until(comm, lambda e: e["type"] in ("error", "rated"))
    await comm.disconnect()
    return reply


# -- the server's answers to ratings say what happened ---------------------------------------
@consumer_test
def test_a_rating_is_confirmed_with_its_score_and_a_second_one_says_it_was_rated(kb):
    conversation = conversation_asked(kb, "Where is my card?")
    services.conversation_close(conversation_id=conversation.pk)

    def csat_answer(event: dict[str, Any]) -> bool:
        return event["type"] in ("csat_thanks", "csat_ignored", "error")

    thanks = async_to_sync(frame_answer)(
        conversation.token, {"type": "csat", "score": 5}, csat_answer
    )
    again = async_to_sync(frame_answer)(
        conversation.token, {"type": "csat", "score": 2}, csat_answer
    )

    assert thanks == {"type": "csat_thanks", "score": 5}
    assert again["type"] == "csat_ignored" and again["csat"] == 5
    assert "already rated" in again["message"]


@consumer_test
def test_a_refused_rating_names_the_request_and_the_answer(kb):
    conversation = conversation_asked(kb, "Where is my card?")
    greeting = conversation.messages.get(answer_kind="greeting")

    error = async_to_sync(frame_answer)(
        conversation.token,
        {"type": "rate", "message_id": greeting.pk, "rating": "up"},
        lambda e: e["type"] in ("rated", "error"),
    )

    assert error["type"] == "error"
    assert error["request"] == "rate" and error["message_id"] == greeting.pk


# -- a reload knows the conversation was rated ----------------------------------------------
async def _history(token: Any) -> Any:
    comm = customer_socket(token)
    await comm.connect()
    try:
        return await comm.receive_json_from(timeout=5)
    finally:
        await comm.disconnect()


@consumer_test
def test_the_history_says_whether_the_conversation_was_rated(kb):
    conversation = conversation_asked(kb, "Where is my card?")
    services.conversation_close(conversation_id=conversation.pk)
    before = async_to_sync(_history)(conversation.token)

    services.csat_submit(conversation_id=conversation.pk, score=4)
    after = async_to_sync(_history)(conversation.token)

    assert before["type"] == "history" and before["csat"] is None
    assert after["csat"] == 4
