"""Reliability of scoring under at-least-once delivery: claims a dead worker left go back, each
text is scored once, the model version on each score, poison documents, the sweeper of stuck and
lost documents, and lost enqueues."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.db.models import Count
from django.test import override_settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.mlops import services as mlops
from apps.mlops.kinds import ModelKind, kind_get, kind_register
from apps.sentiment import selectors, services, tasks, topic_model
from apps.sentiment.models import Aggregate, Document, Score, Source
from apps.sentiment.services import ingest as ingest_service
from apps.sentiment.services import scoring
from apps.sentiment.training import MODEL_NAME
from apps.sentiment.uploads import DocumentRow
from tests.sentiment.conftest import KeywordScorer, beat_entry

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The batches handed to the scoring queue (instead of running them)."""
    batches: list[list[int]] = []
    monkeypatch.setattr(
        ingest_service,
        "documents_score_enqueue",
        lambda *, document_ids: batches.append(list(document_ids)),
    )
    return batches


def row(i: int, title: str) -> DocumentRow:
    return DocumentRow(i, "", "", title, "", NOW, "en")


def ingest(source: Source, titles: Sequence[str], *, ago_s: int = 0) -> list[int]:
    """Ingest `titles` now; with `ago_s`, as if they had been waiting that long to be scored."""
    result = services.documents_ingest(
        source_id=source.pk, rows=[row(i, t) for i, t in enumerate(titles)], now=NOW
    )
    if ago_s:
        Document.objects.filter(pk__in=result.created_ids).update(
            ingested_at=timezone.now() - timedelta(seconds=ago_s)
        )
    return result.created_ids


# This stand-in model writes to the database mid-batch, which only the test's own thread (inside
# its transaction) can see; a micro-batcher runs the model on a thread of its own.
@override_settings(ML_BATCHING=False)
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
    entry = beat_entry("sentiment-rescue-stuck-documents", SENTIMENT_SCORE_SWEEP_S=7)

    assert entry["task"] == "apps.sentiment.tasks.documents_rescue_task"
    assert entry["schedule"] == 7.0


def test_a_document_has_at_most_one_score_row(source: Source, scorer: KeywordScorer) -> None:
    ids = ingest(source, ["Acme jumps", "Acme plunges", "Acme flat"])
    for pk in ids:
        services.documents_score(document_ids=[pk])
        services.documents_score(document_ids=[pk])  # redelivered

    counts = Score.objects.values("document_id").annotate(n=Count("id")).values_list("n", flat=True)
    assert sorted(counts) == [1, 1, 1]


class PoisonScorer(KeywordScorer):
    """The model raises on any batch holding a text with `poison` in it."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if any("poison" in t.lower() for t in texts):
            raise ValueError("tokenizer choked on a control sequence")
        return super().predict_proba(texts)


class WorkerDeath(BaseException):
    """What the scoring code sees of a worker killed mid-batch: nothing is cleaned up."""


class KillingScorer(KeywordScorer):
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if any("poison" in t.lower() for t in texts):
            raise WorkerDeath()
        return super().predict_proba(texts)


class TaggedScorer(KeywordScorer):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.tag = (path / "tag.txt").read_text()


@pytest.fixture
def served_sentiment(model_dirs: Path, tmp_path: Path) -> Iterator[Any]:
    """The `sentiment` kind served from a registry of tiny keyword stand-ins."""
    original = kind_get(MODEL_NAME)
    kind_register(
        ModelKind(name=MODEL_NAME, title="test", loader=TaggedScorer, main_metric="macro_f1")
    )
    mlops.models_forget()

    def publish(tag: str) -> int:
        folder = tmp_path / f"artifact-{tag}"
        folder.mkdir()
        (folder / "tag.txt").write_text(tag)
        version = mlops.registry().register(MODEL_NAME, folder).version
        mlops.registry().set_alias(MODEL_NAME, "production", version)
        return version

    yield publish
    kind_register(original)
    mlops.models_forget()


def test_each_score_records_the_production_version_that_made_it(source, served_sentiment):  # type: ignore[no-untyped-def]
    served_sentiment("first")
    before = ingest(source, ["Acme jumps"])
    services.documents_score(document_ids=before)
    served_sentiment("second")  # a promotion while documents keep arriving

    after = ingest(source, ["Acme plunges"])
    services.documents_score(document_ids=after)

    assert Document.objects.get(pk=before[0]).score.model_version == "v1"
    assert Document.objects.get(pk=after[0]).score.model_version == "v2"


def test_a_text_the_model_cannot_score_is_failed_and_reported_and_its_batch_is_scored(  # type: ignore[no-untyped-def]
    source, monkeypatch
):
    monkeypatch.setattr(scoring, "scorer_get", lambda: (PoisonScorer(), "test"))
    ids = ingest(source, ["Acme jumps", "Acme \x1b[31m poison", "Acme plunges"])

    scored = services.documents_score(document_ids=ids)

    statuses = dict(Document.objects.values_list("title", "status"))
    assert sorted(scored) == sorted([ids[0], ids[2]])
    assert statuses["Acme \x1b[31m poison"] == Document.Status.FAILED
    bad = Document.objects.get(pk=ids[1])
    assert "tokenizer choked" in bad.score_error
    assert Aggregate.objects.get(subject_kind="all").n == 2


def test_a_text_the_tagger_cannot_tag_does_not_hold_back_its_batch(source, scorer, monkeypatch):  # type: ignore[no-untyped-def]
    real = scoring.topics_tag

    def fragile(text: str) -> Any:
        if "poison" in text:
            raise RecursionError("maximum recursion depth exceeded")
        return real(text)

    # The batch's tagger (the topic model, keywords as its fallback) chokes too, so the batch is
    # tagged text by text and only the poisoned text fails.
    monkeypatch.setattr(topic_model, "topics_tag", fragile)
    monkeypatch.setattr(scoring, "topics_tag", fragile)
    ids = ingest(source, ["Acme jumps", "Acme poison", "Acme plunges"])

    scored = services.documents_score(document_ids=ids)

    assert sorted(scored) == sorted([ids[0], ids[2]])
    assert Document.objects.get(pk=ids[1]).status == Document.Status.FAILED
    assert "recursion" in Document.objects.get(pk=ids[1]).score_error


def test_a_single_failing_text_is_retried_before_it_is_given_up(source, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(scoring, "scorer_get", lambda: (PoisonScorer(), "test"))
    [doc_id] = ingest(source, ["Acme poison"])

    outcomes = []
    for _ in range(services.MAX_SCORE_ATTEMPTS):
        try:
            services.documents_score(document_ids=[doc_id])
            outcomes.append("returned")
        except ValueError:
            outcomes.append("raised")

    # Alone in its batch a failure may be passing (the task retries), until attempts run out.
    assert outcomes == ["raised"] * (services.MAX_SCORE_ATTEMPTS - 1) + ["returned"]
    assert Document.objects.get(pk=doc_id).status == Document.Status.FAILED


def test_a_missing_model_fails_no_document(source, monkeypatch):  # type: ignore[no-untyped-def]
    def missing() -> Any:
        raise FileNotFoundError("no production sentiment model")

    monkeypatch.setattr(scoring, "scorer_get", missing)
    [doc_id] = ingest(source, ["Acme jumps"])

    for _ in range(services.MAX_SCORE_ATTEMPTS + 2):
        with pytest.raises(FileNotFoundError):
            services.documents_score(document_ids=[doc_id])

    doc = Document.objects.get(pk=doc_id)
    assert doc.status == Document.Status.PENDING and doc.score_attempts == 0


def test_a_text_that_kills_its_worker_is_failed_and_its_batch_mates_are_scored(  # type: ignore[no-untyped-def]
    source, queued, monkeypatch
):
    monkeypatch.setattr(scoring, "scorer_get", lambda: (KillingScorer(), "test"))
    ids = ingest(source, ["Acme jumps", "Acme poison", "Acme plunges"])
    batches = [ids]
    clock = timezone.now()

    for _sweep in range(services.MAX_SCORE_ATTEMPTS + 2):
        for batch in batches:
            try:
                services.documents_score(document_ids=batch)
            except WorkerDeath:
                pass  # the process is gone; its documents stay claimed
        queued.clear()
        clock += timedelta(seconds=settings.SENTIMENT_SCORE_STALE_AFTER_S + 60)
        services.documents_rescue(now=clock)
        batches = list(queued)

    statuses = dict(Document.objects.values_list("pk", "status"))
    assert statuses == {
        ids[0]: Document.Status.SCORED,
        ids[1]: Document.Status.FAILED,
        ids[2]: Document.Status.SCORED,
    }
    assert "attempts" in Document.objects.get(pk=ids[1]).score_error
    assert queued == []  # nothing left to sweep


# The stand-in model runs the sweeper mid-batch, on the test's transaction (see above).
@override_settings(ML_BATCHING=False)
def test_the_sweeper_leaves_a_document_being_scored_right_now_alone(source, scorer, queued):  # type: ignore[no-untyped-def]
    # Ingested long ago (a backlog), but its batch started a moment ago.
    old = ingest(source, ["Acme jumps"], ago_s=3600)
    fresh = ingest(source, ["Acme plunges"])
    queued.clear()  # their own tasks: this test runs the batch by hand
    swept: list[int] = []
    real_predict = scorer.predict_proba

    def predict_while_the_sweeper_runs(texts: Sequence[str]) -> np.ndarray:
        if not swept:  # the sweeper runs once, while the batch is being scored
            swept.append(services.documents_rescue())
            for batch in list(queued):  # another worker runs what the sweeper queued
                services.documents_score(document_ids=batch)
        return real_predict(texts)

    scorer.predict_proba = predict_while_the_sweeper_runs

    scored = services.documents_score(document_ids=old + fresh)

    assert swept == [0] and queued == []
    assert sorted(scored) == sorted(old + fresh)
    assert Aggregate.objects.get(subject_kind="all").n == 2


def test_the_sweeper_queues_a_lost_document_once_per_interval_not_every_run(source, queued):  # type: ignore[no-untyped-def]
    [doc_id] = ingest(source, ["Acme jumps"], ago_s=3600)
    queued.clear()  # its enqueue was lost
    clock = timezone.now()

    first = services.documents_rescue(now=clock)
    again = services.documents_rescue(now=clock + timedelta(minutes=10))
    later = services.documents_rescue(
        now=clock + timedelta(seconds=settings.SENTIMENT_SCORE_STALE_AFTER_S + 60)
    )

    assert (first, again, later) == (1, 0, 1)
    assert queued == [[doc_id], [doc_id]]


def test_an_ingest_whose_enqueue_fails_keeps_its_documents_for_the_sweeper(  # type: ignore[no-untyped-def]
    source, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.documents_score_task, "delay", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        result = services.documents_ingest(source_id=source.pk, rows=[row(1, "Acme jumps")])

    assert result.created == 1
    assert Document.objects.get().status == Document.Status.PENDING
