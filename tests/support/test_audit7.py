"""Audit 7 of the support app: asking for a human always gets an answer the customer sees, the
widget learns that the conversation was rated already, ratings are confirmed only by the server
(a failed one says which), and consoles learn who is online as agents come and go."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from apps.support import services
from apps.support.models import Conversation

from .sockets import console_socket as _console
from .sockets import consumer_test
from .sockets import customer_socket as _customer
from .sockets import receive_until as _receive_until


def _asked(kb: Any) -> Conversation:
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text="Where is my card?")
    return conversation


async def _frame_answer(token: Any, frame: dict[str, Any], wanted: Any) -> Any:
    comm = _customer(token)
    await comm.connect()
    await comm.receive_json_from()  # history
    try:
        await comm.send_json_to(frame)
        return await _receive_until(comm, wanted)
    finally:
        await comm.disconnect()


def _human_or_error(event: dict[str, Any]) -> bool:
    return event["type"] in ("human", "error")


# -- 1. "Talk to a human" always says something ------------------------------------------------
@consumer_test
def test_asking_for_a_human_when_with_the_bot_queues_and_says_so(kb):
    conversation = _asked(kb)

    answer = async_to_sync(_frame_answer)(conversation.token, {"type": "human"}, _human_or_error)

    assert answer["type"] == "human" and answer["outcome"] == "queued"
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.WAITING


@consumer_test
def test_asking_for_a_human_again_says_the_customer_is_already_in_the_queue(kb):
    conversation = _asked(kb)
    services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")

    answer = async_to_sync(_frame_answer)(conversation.token, {"type": "human"}, _human_or_error)

    assert answer["type"] == "human" and answer["outcome"] == "waiting"
    assert "already in the queue for a person" in answer["text"]


@consumer_test
def test_asking_for_a_human_with_an_agent_says_a_person_is_already_there(kb, agent):
    conversation = _asked(kb)
    services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    answer = async_to_sync(_frame_answer)(conversation.token, {"type": "human"}, _human_or_error)

    assert answer["type"] == "human" and answer["outcome"] == "agent"
    assert "A person is already with you" in answer["text"]


@consumer_test
def test_asking_for_a_human_in_a_closed_conversation_starts_a_new_one(kb):
    conversation = _asked(kb)
    services.conversation_close(conversation_id=conversation.pk)

    answer = async_to_sync(_frame_answer)(conversation.token, {"type": "human"}, _human_or_error)

    # The widget's answer to code "closed": a new conversation, where it asks again.
    assert answer["type"] == "error"
    assert answer["code"] == "closed" and answer["request"] == "human"


@pytest.mark.parametrize(
    ("state", "status_code", "outcome"),
    [("bot", 200, "queued"), ("waiting", 200, "waiting"), ("agent", 200, "agent")],
)
def test_the_human_endpoint_answers_plainly_in_every_state(kb, agent, state, status_code, outcome):
    conversation = _asked(kb)
    if state == "waiting":
        services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")
    if state == "agent":
        services.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    response = APIClient().post(f"/api/support/chat/{conversation.token}/human/")

    assert response.status_code == status_code
    body = response.json()
    assert body["outcome"] == outcome
    assert body["ok"] is (outcome == "queued")
    assert body["message"]


def test_the_human_endpoint_refuses_a_closed_conversation(kb):
    conversation = _asked(kb)
    services.conversation_close(conversation_id=conversation.pk)

    response = APIClient().post(f"/api/support/chat/{conversation.token}/human/")

    assert response.status_code == 409
    assert "start a new one" in response.json()["detail"]


# -- 2. a reload knows the conversation was rated ----------------------------------------------
async def _history(token: Any) -> Any:
    comm = _customer(token)
    await comm.connect()
    try:
        return await comm.receive_json_from(timeout=5)
    finally:
        await comm.disconnect()


@consumer_test
def test_the_history_says_whether_the_conversation_was_rated(kb):
    conversation = _asked(kb)
    services.conversation_close(conversation_id=conversation.pk)
    before = async_to_sync(_history)(conversation.token)

    services.csat_submit(conversation_id=conversation.pk, score=4)
    after = async_to_sync(_history)(conversation.token)

    assert before["type"] == "history" and before["csat"] is None
    assert after["csat"] == 4


# -- 3. the server's answers to ratings say what happened ---------------------------------------
@consumer_test
def test_a_rating_is_confirmed_with_its_score_and_a_second_one_says_it_was_rated(kb):
    conversation = _asked(kb)
    services.conversation_close(conversation_id=conversation.pk)

    def csat_answer(event: dict[str, Any]) -> bool:
        return event["type"] in ("csat_thanks", "csat_ignored", "error")

    thanks = async_to_sync(_frame_answer)(
        conversation.token, {"type": "csat", "score": 5}, csat_answer
    )
    again = async_to_sync(_frame_answer)(
        conversation.token, {"type": "csat", "score": 2}, csat_answer
    )

    assert thanks == {"type": "csat_thanks", "score": 5}
    assert again["type"] == "csat_ignored" and again["csat"] == 5
    assert "already rated" in again["message"]


@consumer_test
def test_a_refused_rating_names_the_request_and_the_answer(kb):
    conversation = _asked(kb)
    greeting = conversation.messages.get(answer_kind="greeting")

    error = async_to_sync(_frame_answer)(
        conversation.token,
        {"type": "rate", "message_id": greeting.pk, "rating": "up"},
        lambda e: e["type"] in ("rated", "error"),
    )

    assert error["type"] == "error"
    assert error["request"] == "rate" and error["message_id"] == greeting.pk


# -- 4. consoles follow agents coming and going --------------------------------------------------
@consumer_test
def test_a_console_learns_of_a_colleague_who_comes_online_later(kb, agent):
    from apps.accounts.services import user_create

    colleague = user_create(username="sam", password="sam-pass-1234", roles=["support_agent"])

    joined, left, asked = async_to_sync(_colleague_comes_and_goes)(agent, colleague)

    assert colleague.pk in {a["id"] for a in joined["agents"]}
    assert colleague.pk not in {a["id"] for a in left["agents"]}
    assert {a["id"] for a in asked["agents"]} == {agent.pk}


async def _colleague_comes_and_goes(agent: Any, colleague: Any) -> tuple[Any, Any, Any]:
    console = _console(agent)
    await console.connect()
    first = await _receive_until(console, lambda e: e["type"] == "queue")
    assert [a["id"] for a in first["agents"]] == [agent.pk]
    other = _console(colleague)
    await other.connect()
    joined = await _receive_until(
        console,
        lambda e: e["type"] == "agents" and colleague.pk in {a["id"] for a in e["agents"]},
    )
    await other.disconnect()
    left = await _receive_until(
        console,
        lambda e: e["type"] == "agents" and colleague.pk not in {a["id"] for a in e["agents"]},
    )
    # The console asks when the "Transfer to" control is opened.
    await console.send_json_to({"type": "agents"})
    asked = await _receive_until(console, lambda e: e["type"] == "agents")
    await console.disconnect()
    return joined, left, asked
