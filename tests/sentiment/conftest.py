"""A keyword stand-in for the sentiment model, and an analyst with a client."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from apps.accounts.models import Role
from apps.accounts.services import user_create

NEGATIVE_WORDS = ("plunge", "cut", "loss", "fall", "sued", "probe", "warning", "ground", "strike")
POSITIVE_WORDS = ("beat", "rise", "record", "raise", "jump", "wins", "surge", "upgrade")


class KeywordScorer:
    """Tiny stand-in with the model's interface: labels + predict_proba."""

    labels = ["negative", "neutral", "positive"]

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        rows = []
        for text in texts:
            low = text.lower()
            if any(w in low for w in NEGATIVE_WORDS):
                rows.append([0.9, 0.08, 0.02])
            elif any(w in low for w in POSITIVE_WORDS):
                rows.append([0.03, 0.07, 0.9])
            else:
                rows.append([0.05, 0.9, 0.05])
        return np.asarray(rows, dtype=np.float32)


@pytest.fixture
def scorer(monkeypatch: pytest.MonkeyPatch) -> KeywordScorer:
    from apps.sentiment import services

    stand_in = KeywordScorer()
    monkeypatch.setattr(services, "scorer_get", lambda: (stand_in, "test"))
    return stand_in


@pytest.fixture
def analyst(db):  # type: ignore[no-untyped-def]
    return user_create(
        username="ann", password="pw-ann-123", email="ann@example.com", roles=[Role.ANALYST.value]
    )


@pytest.fixture
def analyst_client(client, analyst):  # type: ignore[no-untyped-def]
    client.force_login(analyst)
    return client
