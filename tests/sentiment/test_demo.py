"""The demo loads a watchlist, sources, headlines with a spike, and opens an alert; twice is
the same as once."""

from __future__ import annotations

import pytest

from apps.accounts.models import Role
from apps.accounts.services import user_create
from apps.sentiment.demo import SPIKE_COMPANY, demo_load
from apps.sentiment.models import Alert, Document, Entity, Source

pytestmark = pytest.mark.django_db


def test_demo_is_idempotent_and_shows_a_spike(scorer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("apps.mlops.services.model_available", lambda name: True)
    user_create(
        username="analyst",
        password="analyst",
        email="analyst@example.com",
        roles=[Role.ANALYST.value],
    )
    lines: list[str] = []

    demo_load(log=lines.append, train=False)
    counts = (Entity.objects.count(), Source.objects.count(), Document.objects.count())
    demo_load(log=lines.append, train=False)

    assert counts == (Entity.objects.count(), Source.objects.count(), Document.objects.count())
    assert counts[0] >= 15 and counts[2] >= 400
    feed = Source.objects.get(kind="rss")
    assert feed.status == "ok" and feed.items_total == 8
    assert not Document.objects.exclude(status="scored").exists()
    alert = Alert.objects.get()
    assert alert.subject_label.startswith(SPIKE_COMPANY)
    # "Why AI spending..." in the demo feed must not count for the company with ticker AI.
    aion = Entity.objects.get(ticker="AI")
    assert not aion.document_set.filter(title__startswith="Why AI").exists()
    # The Chinese headlines: stored as Chinese, their companies found by their Chinese names.
    chinese = Document.objects.filter(source__name="演示快讯（中文）")
    assert chinese.count() == 96 and set(chinese.values_list("language", flat=True)) == {"zh"}
    assert Source.objects.get(name="演示快讯（中文）").embedding_model == "multilingual"
    northwind = Entity.objects.get(ticker="NWB")
    assert northwind.document_set.filter(language="zh", title__contains="北风银行").exists()
