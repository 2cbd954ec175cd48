"""A real ASGI server (daphne) with channels-redis: a customer and an agent hold a conversation
over websockets, including the agent taking over from the bot."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.integration.conftest import signed_in_client
from tests.integration.support import CARD_DELIVERY, bot_answer, help_centre_setup, shell, until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _agent_cookies(base: str) -> str:
    with signed_in_client(base, "agent", "agent-pass-123") as client:
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


async def _conversation(base: str, cookies: str) -> dict:
    import websockets

    ws_base = base.replace("http", "ws")
    started = httpx.post(f"{base}/api/support/chat/", json={}).json()
    customer = await websockets.connect(
        f"{ws_base}/ws/support/chat/{started['token']}/", origin=base
    )
    await until(customer, lambda e: e["type"] == "history")
    await customer.send(
        json.dumps(
            {"type": "message", "client_id": "c1", "text": "How long does card delivery take?"}
        )
    )
    answer = await until(customer, bot_answer)

    agent = await websockets.connect(
        f"{ws_base}/ws/support/console/", origin=base, additional_headers={"Cookie": cookies}
    )
    await until(agent, lambda e: e["type"] == "queue")
    await customer.send(
        json.dumps({"type": "message", "client_id": "c2", "text": "Can I talk to a human?"})
    )
    queued = await until(
        agent, lambda e: e["type"] == "queue_item" and e["conversation"]["status"] == "waiting"
    )
    await agent.send(json.dumps({"type": "open", "conversation_id": started["id"]}))
    transcript = await until(agent, lambda e: e["type"] == "transcript")
    await agent.send(json.dumps({"type": "take_over"}))
    # The customer was told their place in the queue at the handover; then the agent joins.
    joined = await until(
        customer,
        lambda e: (
            e["type"] == "message"
            and e["message"]["sender"] == "system"
            and "joined" in e["message"]["text"]
        ),
    )
    await customer.send(
        json.dumps(
            {"type": "message", "client_id": "c3", "text": "How long does card delivery take?"}
        )
    )
    relayed = await until(
        agent, lambda e: e["type"] == "message" and e["message"]["client_id"] == "c3"
    )
    await agent.send(
        json.dumps({"type": "message", "client_id": "a1", "text": "Yours was posted yesterday."})
    )
    reply = await until(
        customer, lambda e: e["type"] == "message" and e["message"]["sender"] in ("agent", "bot")
    )
    await customer.close()
    await agent.close()
    return {
        "answer": answer,
        "queued": queued,
        "transcript": transcript,
        "joined": joined,
        "relayed": relayed,
        "reply": reply,
        "token": started["token"],
    }


def test_customer_and_agent_chat_with_takeover(running):
    shell(running, help_centre_setup(CARD_DELIVERY, agents=("agent",)), "ready")
    base = running.start_web()
    cookies = _agent_cookies(base)

    seen = asyncio.run(_conversation(base, cookies))

    assert "5 to 7 working days" in seen["answer"]["message"]["text"]
    assert seen["answer"]["message"]["citations"][0]["title"] == "Card delivery"
    assert seen["queued"]["conversation"]["handoff_reason"] == "customer_asked"
    assert any(
        m["sources"]
        for m in seen["transcript"]["messages"]
        if m["sender"] == "bot" and m["kind"] == "extractive"
    )
    assert "joined" in seen["joined"]["message"]["text"]
    # The bot stayed silent after the takeover: the next reply came from the agent.
    assert seen["reply"]["message"]["sender"] == "agent"
    history = httpx.get(f"{base}/api/support/chat/{seen['token']}/messages/").json()
    assert [m["client_id"] for m in history if m["sender"] == "customer"] == ["c1", "c2", "c3"]
