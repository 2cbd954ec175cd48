"""Reliability of the scoring pipeline under at-least-once delivery: model versions on scores,
poison documents, the sweeper of stuck and lost documents, lost enqueues, and alert emails and
digests that outlast their task's retries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.mlops import services as mlops
from apps.mlops.kinds import ModelKind, kind_get, kind_register
from apps.sentiment import schedules, services, tasks
from apps.sentiment.models import Aggregate, Alert, AlertRule, Document, Source
from apps.sentiment.training import MODEL_NAME
from apps.sentiment.uploads import DocumentRow
from tests.sentiment.conftest import KeywordScorer

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(minute=30, second=0, microsecond=0)


def row(i: int, title: str, when: Any = None) -> DocumentRow:
    return DocumentRow(i, "", "", title, "", when or NOW, "en")


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


def ingest(source: Source, titles: Sequence[str], *, ago_s: int = 0) -> list[int]:
    result = services.documents_ingest(
        source_id=source.pk, rows=[row(i, t) for i, t in enumerate(titles)], now=NOW
    )
    if ago_s:
        Document.objects.filter(pk__in=result.created_ids).update(
            ingested_at=timezone.now() - timedelta(seconds=ago_s)
        )
    return result.created_ids


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


# -- the model version on each score ---------------------------------------------------------------
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


# -- poison documents ------------------------------------------------------------------------------
def test_a_text_the_model_cannot_score_is_failed_and_reported_and_its_batch_is_scored(
    source, monkeypatch
):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(services, "scorer_get", lambda: (PoisonScorer(), "test"))
    ids = ingest(source, ["Acme jumps", "Acme \x1b[31m poison", "Acme plunges"])

    scored = services.documents_score(document_ids=ids)

    statuses = dict(Document.objects.values_list("title", "status"))
    assert sorted(scored) == sorted([ids[0], ids[2]])
    assert statuses["Acme \x1b[31m poison"] == Document.Status.FAILED
    bad = Document.objects.get(pk=ids[1])
    assert "tokenizer choked" in bad.score_error
    assert Aggregate.objects.get(subject_kind="all").n == 2


def test_a_text_the_tagger_cannot_tag_does_not_hold_back_its_batch(source, scorer, monkeypatch):  # type: ignore[no-untyped-def]
    real = services.topics_tag

    def fragile(text: str) -> Any:
        if "poison" in text:
            raise RecursionError("maximum recursion depth exceeded")
        return real(text)

    monkeypatch.setattr(services, "topics_tag", fragile)
    ids = ingest(source, ["Acme jumps", "Acme poison", "Acme plunges"])

    scored = services.documents_score(document_ids=ids)

    assert sorted(scored) == sorted([ids[0], ids[2]])
    assert Document.objects.get(pk=ids[1]).status == Document.Status.FAILED
    assert "recursion" in Document.objects.get(pk=ids[1]).score_error


def test_a_single_failing_text_is_retried_before_it_is_given_up(source, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(services, "scorer_get", lambda: (PoisonScorer(), "test"))
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

    monkeypatch.setattr(services, "scorer_get", missing)
    [doc_id] = ingest(source, ["Acme jumps"])

    for _ in range(services.MAX_SCORE_ATTEMPTS + 2):
        with pytest.raises(FileNotFoundError):
            services.documents_score(document_ids=[doc_id])

    doc = Document.objects.get(pk=doc_id)
    assert doc.status == Document.Status.PENDING and doc.score_attempts == 0


def test_a_text_that_kills_its_worker_is_failed_and_its_batch_mates_are_scored(
    source, queued, monkeypatch
):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(services, "scorer_get", lambda: (KillingScorer(), "test"))
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


# -- the sweeper -----------------------------------------------------------------------------------
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


def test_an_ingest_whose_enqueue_fails_keeps_its_documents_for_the_sweeper(
    source, monkeypatch, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    def broker_down(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.documents_score_task, "delay", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        result = services.documents_ingest(source_id=source.pk, rows=[row(1, "Acme jumps")])

    assert result.created == 1
    assert Document.objects.get().status == Document.Status.PENDING


# -- emails that outlast their task's retries ------------------------------------------------------
@pytest.fixture
def volume_rule(analyst: Any) -> Any:
    def make(delivery: str = AlertRule.Delivery.IMMEDIATE) -> AlertRule:
        return AlertRule.objects.create(
            owner=analyst, name=f"Chatter {delivery}", metric="volume", delivery=delivery
        )

    return make


def _alert(rule: AlertRule, *, created_ago: timedelta, key: str = "1", **fields: Any) -> Alert:
    alert = Alert.objects.create(
        rule=rule,
        subject_kind="entity",
        subject_key=key,
        subject_label=f"Company {key}",
        metric=rule.metric,
        value=12,
        baseline=3,
        window_start=NOW - timedelta(hours=6),
        window_end=NOW,
        reason="12 texts in 6 h, usually 3",
        **fields,
    )
    Alert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - created_ago)
    return alert


def _smtp_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def down(self: Any, fail_silently: bool = False) -> int:
        raise OSError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", down)


def test_an_alert_email_whose_retries_ran_out_is_sent_once_smtp_is_back(volume_rule, monkeypatch):  # type: ignore[no-untyped-def]
    alert = _alert(volume_rule(), created_ago=timedelta(hours=3), send_attempts=11)
    with monkeypatch.context() as patch:
        _smtp_down(patch)
        during = tasks.alerts_send_pending_task()

    after = tasks.alerts_send_pending_task()
    again = tasks.alerts_send_pending_task()

    assert during == 0 and (after, again) == (1, 0)
    assert len(mail.outbox) == 1
    assert Alert.objects.get(pk=alert.pk).sent_at is not None
    assert any(
        entry["task"] == "apps.sentiment.tasks.alerts_send_pending_task"
        for entry in schedules.BEAT_SCHEDULE.values()
    )


def test_the_email_sweep_leaves_new_claimed_sent_and_digest_alerts_alone(volume_rule):  # type: ignore[no-untyped-def]
    rule = volume_rule()
    _alert(rule, created_ago=timedelta(minutes=1), key="new")  # its own task is still on it
    _alert(rule, created_ago=timedelta(hours=1), key="claimed", send_claimed_at=timezone.now())
    _alert(rule, created_ago=timedelta(hours=1), key="sent", sent_at=timezone.now())
    _alert(volume_rule(AlertRule.Delivery.DIGEST), created_ago=timedelta(hours=1), key="digest")
    _alert(volume_rule(AlertRule.Delivery.NONE), created_ago=timedelta(hours=1), key="board")

    assert services.alerts_send_pending() == 0
    assert mail.outbox == []


def test_a_digest_missed_because_smtp_was_down_goes_out_before_the_next_day(
    volume_rule, monkeypatch
):  # type: ignore[no-untyped-def]
    rule = volume_rule(AlertRule.Delivery.DIGEST)
    today_digest = timezone.localtime().replace(
        hour=schedules.DIGEST_HOUR, minute=0, second=0, microsecond=0
    )
    if today_digest > timezone.localtime():
        today_digest -= timedelta(days=1)
    since_digest = timezone.localtime() - today_digest
    _alert(rule, created_ago=since_digest + timedelta(hours=2), key="overdue")
    with monkeypatch.context() as patch:
        _smtp_down(patch)
        with pytest.raises(OSError):
            services.alerts_digest_send()  # 07:00, and every retry after it
    fresh = _alert(rule, created_ago=timedelta(0), key="fresh")

    sent = tasks.alerts_digest_catch_up_task()

    assert sent == 1 and len(mail.outbox) == 1
    assert "Company overdue" in mail.outbox[0].subject
    assert Alert.objects.filter(digest_sent_at__isnull=False).count() == 2
    assert Alert.objects.get(pk=fresh.pk).digest_sent_at is not None
    assert tasks.alerts_digest_catch_up_task() == 0


def test_the_digest_catch_up_waits_for_the_days_digest(volume_rule):  # type: ignore[no-untyped-def]
    _alert(volume_rule(AlertRule.Delivery.DIGEST), created_ago=timedelta(0))

    assert services.alerts_digest_catch_up() == 0
    assert mail.outbox == []
