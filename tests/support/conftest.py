"""Support test helpers: a tiny deterministic stand-in embedder and a small knowledge base."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

from apps.support.text import tokens


class HashingEmbedder:
    """Bag of stemmed words hashed into 384 dims: similar wording, similar vectors."""

    dim = 384

    def __init__(self) -> None:
        self.calls: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokens(text) or ["empty"]:
                slot = int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dim
                out[row, slot] += 1.0
            out[row] /= np.linalg.norm(out[row]) or 1.0
        return out


@pytest.fixture
def fake_embedder(monkeypatch: pytest.MonkeyPatch, model_dirs: Any) -> HashingEmbedder:
    from apps.mlops import vectors
    from apps.support import retrieval

    embedder = HashingEmbedder()
    monkeypatch.setattr(vectors, "embedder_get", lambda: embedder)
    retrieval.retrieval_state_reset()
    yield embedder
    retrieval.retrieval_state_reset()


CARD_ARTICLE = """# Card delivery

## How long delivery takes
Your new card usually arrives within 5 to 7 working days after you order it. Express delivery
takes 2 working days.

## Tracking your card
Open the app and go to Cards to follow the delivery of your card.
"""

PIN_ARTICLE = """# Changing your PIN

## At an ATM
You can change your PIN at most ATMs in the PIN services menu. Choose a PIN that is hard to guess.

## Blocked PIN
After three wrong attempts your PIN is blocked. Unblock it in the app under Card settings.
"""


@pytest.fixture
def kb(db: Any, fake_embedder: HashingEmbedder) -> Any:
    from apps.support import services

    knowledge_base = services.knowledge_base_ensure(name="Test help centre")
    services.article_upsert(
        kb_id=knowledge_base.pk,
        title="Card delivery",
        body=CARD_ARTICLE,
        intents=["card_arrival", "card_delivery_estimate"],
    )
    services.article_upsert(
        kb_id=knowledge_base.pk,
        title="Changing your PIN",
        body=PIN_ARTICLE,
        intents=["change_pin", "pin_blocked"],
    )
    knowledge_base.refresh_from_db()
    return knowledge_base


@pytest.fixture
def agent(db: Any) -> Any:
    from apps.accounts.services import user_create

    return user_create(
        username="alex", password="alex-pass-123", email="alex@example.com", roles=["support_agent"]
    )


@pytest.fixture
def agent_api(agent: Any) -> Any:
    from tests.support.helpers import api_client

    return api_client(agent)


@pytest.fixture(autouse=True)
def _on_commit_runs_now(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run inside one rolled-back transaction, where commit hooks would never fire.
    from django.db import transaction

    from config.celery import app

    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)


CARD_QUESTION = "How long does card delivery take?"


@pytest.fixture
def ask(db: Any) -> Any:
    """`ask(conversation, text)`: the customer writes `text`, the bot replies; returns the reply
    and refreshes `conversation` (its status may have changed)."""
    from apps.support import services

    def _ask(conversation: Any, text: str) -> Any:
        message, _ = services.customer_message_post(conversation_id=conversation.pk, text=text)
        reply = services.bot_reply(conversation_id=conversation.pk, message_id=message.pk)
        conversation.refresh_from_db()
        return reply

    return _ask


@pytest.fixture
def answered(kb: Any, ask: Any) -> Any:
    """`answered(text=CARD_QUESTION)`: a new conversation in `kb` where the bot answered `text`;
    returns (conversation, reply)."""
    from apps.support import services

    def _answered(text: str = CARD_QUESTION) -> tuple[Any, Any]:
        conversation = services.conversation_start(kb_id=kb.pk)
        return conversation, ask(conversation, text)

    return _answered


@pytest.fixture
def resolved(answered: Any, agent: Any) -> Any:
    """`resolved(text=CARD_QUESTION, rating="up")`: an answered conversation whose answer the
    customer rated and that `agent` closed; returns (conversation, reply)."""
    from apps.support import services

    def _resolved(text: str = CARD_QUESTION, rating: str = "up") -> tuple[Any, Any]:
        conversation, reply = answered(text)
        services.message_rate(conversation_id=conversation.pk, message_id=reply.pk, rating=rating)
        services.conversation_close(conversation_id=conversation.pk, by=agent)
        return conversation, reply

    return _resolved
