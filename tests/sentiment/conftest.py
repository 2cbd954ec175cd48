"""A keyword stand-in for the sentiment model, an analyst with a client, and the source, company,
rule and scored document that many sentiment tests start from."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from django.test import override_settings
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.services import user_create
from apps.sentiment import schedules, services
from apps.sentiment.models import AlertRule, Document, Entity, Source
from apps.sentiment.services import scoring
from tests.sentiment.factories import AlertRuleFactory, DocumentFactory, ScoreFactory

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
    stand_in = KeywordScorer()
    monkeypatch.setattr(scoring, "scorer_get", lambda: (stand_in, "test"))
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


@pytest.fixture
def source(db: Any) -> Source:
    return services.source_get_or_create(name="Wire", kind=Source.Kind.API)


@pytest.fixture
def kestrel(db: Any) -> Entity:
    return services.entity_upsert(name="Kestrel Airlines", ticker="KSTL", aliases=["Kestrel"])


def rule_create(owner: Any, entities: list[Entity], **fields: Any) -> AlertRule:
    """An alert rule on `entities` (six-hour window, at least five texts) unless `fields` differ."""
    values: dict[str, Any] = {"name": "Kestrel", "window_hours": 6, "min_volume": 5}
    values.update(fields)
    return AlertRuleFactory(owner=owner, entities=entities, **values)


def rule_form(**fields: Any) -> dict[str, Any]:
    """What the rule form posts for a spike rule on the negative share, unless `fields` differ."""
    data: dict[str, Any] = {
        "name": "Rule",
        "metric": "negative_share",
        "mode": "spike",
        "sensitivity": "3",
        "window_hours": "6",
        "min_volume": "5",
        "cooldown_hours": "12",
        "delivery": "immediate",
        "active": "on",
    }
    data.update(fields)
    return data


@pytest.fixture
def scored_document(db: Any) -> Document:
    """A scored two-sentence text about Kestrel Airlines, one sentence negative, one positive."""
    source = services.source_get_or_create(name="Wire", kind=Source.Kind.API)
    doc = DocumentFactory(
        source=source,
        title="Kestrel Airlines cuts routes",
        body="Capacity falls by a tenth. The chief executive stays upbeat.",
        published_at=timezone.now(),
        content_hash="x" * 64,
        status="scored",
    )
    ScoreFactory(
        document=doc,
        label="negative",
        positive=0.1,
        neutral=0.1,
        negative=0.8,
        value=-0.7,
        model_version="v1",
        sentences=[
            {"text": "Capacity falls by a tenth.", "label": "negative", "scores": {}},
            {"text": "The chief executive stays upbeat.", "label": "positive", "scores": {}},
        ],
    )
    return doc


def beat_entry(name: str, **settings: Any) -> dict[str, Any]:
    """Celery beat's schedule entry `name` as built under the given settings (the module is
    rebuilt with them, then rebuilt again as it was)."""
    try:
        with override_settings(**settings):
            return dict(importlib.reload(schedules).BEAT_SCHEDULE[name])
    finally:
        importlib.reload(schedules)
