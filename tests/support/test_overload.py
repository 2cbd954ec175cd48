"""Overload: past ML_MAX_WAITING_REQUESTS requests waiting for a model, a question is refused
at once (the ask API and the chat API with a 503 and Retry-After, the live chat with a "busy"
error frame) and nothing is stored; once a place is free the same message is answered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from apps.mlops.runtime import model_request_admit
from apps.support import services
from apps.support.models import Message

from .sockets import consumer_test, customer_socket, receive_until


@pytest.fixture
def full(settings: Any) -> Iterator[None]:
    """Every place of this process taken (a bound of one, held by another request)."""
    settings.ML_MAX_WAITING_REQUESTS = 1
    with model_request_admit():
        yield


def test_an_ask_past_the_bound_gets_a_503_with_retry_after(kb: Any, client: Any, full: Any) -> None:
    response = client.post(
        "/api/support/ask/",
        {"question": "How long does card delivery take?", "kb": kb.pk},
        content_type="application/json",
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    body = response.json()
    assert body["code"] == "busy" and body["retry_after"] == 2
    assert "try again" in body["detail"]


def test_an_ask_within_the_bound_is_answered(kb: Any, client: Any, settings: Any) -> None:
    settings.ML_MAX_WAITING_REQUESTS = 1

    response = client.post(
        "/api/support/ask/",
        {"question": "How long does card delivery take?", "kb": kb.pk},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert "5 to 7 working days" in response.json()["answer"]


def test_a_chat_message_refused_as_busy_is_not_stored(kb: Any, client: Any, settings: Any) -> None:
    conversation = services.conversation_start(kb_id=kb.pk)
    url = f"/api/support/chat/{conversation.token}/messages/"
    body = {"text": "How long does card delivery take?", "client_id": "c1"}
    settings.ML_MAX_WAITING_REQUESTS = 1

    with model_request_admit():
        refused = client.post(url, body, content_type="application/json")
    stored_while_busy = Message.objects.filter(conversation=conversation, client_id="c1").count()
    again = client.post(url, body, content_type="application/json")

    assert refused.status_code == 503 and refused["Retry-After"] == "2"
    assert stored_while_busy == 0
    assert again.status_code == 201
    assert again.json()["duplicate"] is False
    assert "5 to 7 working days" in again.json()["reply"]["text"]


@consumer_test
def test_a_live_chat_message_refused_as_busy_is_answered_when_sent_again(
    kb: Any, settings: Any
) -> None:
    conversation = services.conversation_start(kb_id=kb.pk)
    settings.ML_MAX_WAITING_REQUESTS = 1

    refused, stored_while_busy, answer = async_to_sync(_busy_then_resent)(conversation)

    assert refused["type"] == "error" and refused["code"] == "busy"
    assert refused["client_id"] == "q1" and refused["retry_after"] == 2
    assert stored_while_busy == 0
    assert "5 to 7 working days" in answer["message"]["text"]


async def _busy_then_resent(conversation: Any) -> tuple[Any, int, Any]:
    from channels.db import database_sync_to_async

    frame = {"type": "message", "client_id": "q1", "text": "How long does card delivery take?"}
    comm = customer_socket(conversation.token)
    await comm.connect()
    await comm.receive_json_from()  # history
    try:
        with model_request_admit():
            await comm.send_json_to(frame)
            refused = await receive_until(comm, lambda e: e["type"] == "error")
        stored = await database_sync_to_async(
            Message.objects.filter(conversation_id=conversation.pk, client_id="q1").count
        )()
        await comm.send_json_to(frame)
        answer = await receive_until(
            comm, lambda e: e["type"] == "message" and e["message"]["sender"] == "bot"
        )
    finally:
        await comm.disconnect()
    return refused, stored, answer
