"""Many customers asking at once through the real ASGI server (daphne, channels-redis): with
micro-batching on (the default), every one of them gets the bot's answer to their own question."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.integration.support import (
    CARD_DELIVERY,
    CHANGING_PIN,
    bot_answer,
    help_centre_setup,
    shell,
    until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUSTOMERS = 12
# Each question, and words only the answer from its own article holds.
QUESTIONS = [
    ("How long does card delivery take?", "5 to 7 working days"),
    ("How can I change the PIN of my card?", "PIN services menu"),
]


async def _customer_asks(base: str, client: httpx.AsyncClient, question: str) -> dict:
    import websockets

    started = (await client.post("/api/support/chat/", json={})).json()
    ws_url = f"{base.replace('http', 'ws')}/ws/support/chat/{started['token']}/"
    async with websockets.connect(ws_url, origin=base) as customer:
        await until(customer, lambda e: e["type"] == "history", timeout=120)
        await customer.send(json.dumps({"type": "message", "client_id": "q1", "text": question}))
        answer = await until(customer, bot_answer, timeout=120)
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
    shell(support_tidy, help_centre_setup(CARD_DELIVERY, CHANGING_PIN), "ready")
    base = support_tidy.start_web()

    answers = asyncio.run(_all_ask(base))

    assert len(answers) == CUSTOMERS
    for i, answer in enumerate(answers):
        expected = QUESTIONS[i % len(QUESTIONS)][1]
        assert answer["kind"] == "extractive", answer
        assert expected in answer["text"], (i, answer["text"])
