"""Worker recovery in scoring: claims a dead worker left go back, and each text is scored once."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pytest
from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from apps.sentiment import schedules, selectors, services
from apps.sentiment.models import Aggregate, Document, Score, Source
from apps.sentiment.uploads import DocumentRow
from tests.sentiment.conftest import KeywordScorer

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def source() -> Source:
    return services.source_get_or_create(name="Wire", kind=Source.Kind.API)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The batches handed to the scoring queue (instead of running them)."""
    batches: list[list[int]] = []
    monkeypatch.setattr(
        services,
        "documents_score_enqueue",
        lambda *, document_ids: batches.append(list(document_ids)),
    )
    return batches


def ingest(source: Source, titles: Sequence[str]) -> list[int]:
    rows = [DocumentRow(i, "", "", t, "", NOW, "en") for i, t in enumerate(titles)]
    return services.documents_ingest(source_id=source.pk, rows=rows, now=NOW).created_ids


def test_a_slow_batch_whose_claim_was_taken_back_stores_nothing_and_each_text_is_scored_once(
    source: Source, scorer: KeywordScorer, queued: list[list[int]]
) -> None:
    ids = ingest(source, ["Acme jumps", "Acme plunges"])
    queued.clear()
    real_predict = scorer.predict_proba
    later = timezone.now() + timedelta(hours=1)

    def predict_past_the_stale_limit(texts: Sequence[str]) -> np.ndarray:
        # While this batch is stuck, the sweeper takes its claim back and another worker scores
        # one of the two documents before this batch finishes.
        scorer.predict_proba = real_predict
        services.documents_rescue(now=later)
        services.documents_score(document_ids=[ids[0]])
        return real_predict(texts)

    scorer.predict_proba = predict_past_the_stale_limit

    slow = services.documents_score(document_ids=ids)
    rest = [services.documents_score(document_ids=batch) for batch in queued]

    assert slow == []
    assert sorted(pk for batch in rest for pk in batch) == [ids[1]]
    assert Score.objects.filter(document_id__in=ids).count() == 2
    assert set(Document.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        Document.Status.SCORED
    }
    assert Aggregate.objects.get(subject_kind="all").n == 2  # counted once each


def test_a_failing_batch_gives_back_only_the_documents_it_still_holds(
    source: Source, scorer: KeywordScorer, queued: list[list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = ingest(source, ["Acme jumps", "Acme plunges"])
    queued.clear()
    later = timezone.now() + timedelta(hours=1)

    def watchlist_then_crash() -> list[object]:
        services.documents_rescue(now=later)
        # Another worker claims the first document again and is still scoring it.
        Document.objects.filter(pk=ids[0]).update(
            status=Document.Status.SCORING, scoring_since=timezone.now()
        )
        raise RuntimeError("database went away")

    monkeypatch.setattr(selectors, "watchlist_items", watchlist_then_crash)

    with pytest.raises(RuntimeError):
        services.documents_score(document_ids=ids)

    assert Document.objects.get(pk=ids[0]).status == Document.Status.SCORING  # still theirs
    assert Document.objects.get(pk=ids[1]).status == Document.Status.PENDING


def test_claims_older_than_the_configured_stale_limit_go_back_to_pending(
    source: Source, queued: list[list[int]]
) -> None:
    [stuck] = ingest(source, ["Acme jumps"])
    queued.clear()
    Document.objects.filter(pk=stuck).update(
        status=Document.Status.SCORING,
        scoring_since=timezone.now() - timedelta(seconds=30),
        score_attempts=1,
    )

    with override_settings(SENTIMENT_SCORE_STALE_AFTER_S=20):
        swept = services.documents_rescue()

    assert swept == 1
    assert Document.objects.get(pk=stuck).status == Document.Status.PENDING
    assert queued == [[stuck]]


def test_a_claim_younger_than_the_stale_limit_is_left_alone(
    source: Source, queued: list[list[int]]
) -> None:
    [live] = ingest(source, ["Acme jumps"])
    queued.clear()
    Document.objects.filter(pk=live).update(
        status=Document.Status.SCORING, scoring_since=timezone.now() - timedelta(seconds=30)
    )

    with override_settings(SENTIMENT_SCORE_STALE_AFTER_S=120):
        swept = services.documents_rescue()

    assert swept == 0 and queued == []
    assert Document.objects.get(pk=live).status == Document.Status.SCORING


def test_the_sweeper_runs_at_the_configured_interval() -> None:
    try:
        with override_settings(SENTIMENT_SCORE_SWEEP_S=7):
            entry = importlib.reload(schedules).BEAT_SCHEDULE["sentiment-rescue-stuck-documents"]
    finally:
        importlib.reload(schedules)

    assert entry["task"] == "apps.sentiment.tasks.documents_rescue_task"
    assert entry["schedule"] == 7.0


def test_a_document_has_at_most_one_score_row(source: Source, scorer: KeywordScorer) -> None:
    ids = ingest(source, ["Acme jumps", "Acme plunges", "Acme flat"])
    for pk in ids:
        services.documents_score(document_ids=[pk])
        services.documents_score(document_ids=[pk])  # redelivered

    counts = Score.objects.values("document_id").annotate(n=Count("id")).values_list("n", flat=True)
    assert sorted(counts) == [1, 1, 1]
