"""Many customers asking at once through the real ASGI server (daphne, channels-redis): with
micro-batching on (the default), every one of them gets the bot's answer to their own question."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUSTOMERS = 12
SETUP = """
from apps.support import services
kb = services.knowledge_base_ensure(name="Help centre")
services.article_upsert(kb_id=kb.pk, title="Card delivery", intents=["card_arrival"], body=(
    "# Card delivery\\n\\n## How long delivery takes\\n"
    "Your new card usually arrives within 5 to 7 working days after you order it."))
services.article_upsert(kb_id=kb.pk, title="Changing your PIN", intents=["change_pin"], body=(
    "# Changing your PIN\\n\\n## Change the PIN of your card\\n"
    "You can change the PIN of your card at any ATM, in the ATM's PIN services menu."))
services.knowledge_embed(kb_id=kb.pk)
print("ready")
"""
# Each question, and words only the answer from its own article holds.
QUESTIONS = [
    ("How long does card delivery take?", "5 to 7 working days"),
    ("How can I change the PIN of my card?", "PIN services menu"),
]


async def _until(ws, wanted, timeout=120):
    async def loop():
        while True:
            event = json.loads(await ws.recv())
            if wanted(event):
                return event

    return await asyncio.wait_for(loop(), timeout)


async def _customer_asks(base: str, client: httpx.AsyncClient, question: str) -> dict:
    import websockets

    started = (await client.post("/api/support/chat/", json={})).json()
    ws_url = f"{base.replace('http', 'ws')}/ws/support/chat/{started['token']}/"
    async with websockets.connect(ws_url, origin=base) as customer:
        await _until(customer, lambda e: e["type"] == "history")
        await customer.send(json.dumps({"type": "message", "client_id": "q1", "text": question}))
        answer = await _until(
            customer,
            lambda e: (
                e["type"] == "message"
                and e["message"]["sender"] == "bot"
                and e["message"]["kind"] != "greeting"
            ),
        )
    return answer["message"]


async def _all_ask(base: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        return await asyncio.gather(
            *(
                _customer_asks(base, client, QUESTIONS[i % len(QUESTIONS)][0])
                for i in range(CUSTOMERS)
            )
        )


def test_concurrent_customers_each_get_the_answer_to_their_own_question(support_tidy):
    setup = support_tidy.manage("shell", "-c", SETUP, timeout=300)
    assert "ready" in setup.stdout, setup.stdout + setup.stderr
    base = support_tidy.start_web()

    answers = asyncio.run(_all_ask(base))

    assert len(answers) == CUSTOMERS
    for i, answer in enumerate(answers):
        expected = QUESTIONS[i % len(QUESTIONS)][1]
        assert answer["kind"] == "extractive", answer
        assert expected in answer["text"], (i, answer["text"])
