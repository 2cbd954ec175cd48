"""Rescoring after a model promotion, and deleting documents, keep the hourly aggregates equal to
a recount of the stored scores: no contribution is left behind or taken out twice."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from io import StringIO
from typing import Any

import numpy as np
import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from django.utils import timezone

from apps.sentiment import services
from apps.sentiment.admin import DocumentAdmin, ScoreInline
from apps.sentiment.management.commands import sentiment_rescore
from apps.sentiment.models import (
    Aggregate,
    Alert,
    Document,
    DocumentEntity,
    Score,
    Source,
)
from apps.sentiment.services import deletion, ingest, rescoring
from apps.sentiment.uploads import DocumentRow
from tests.admin_forms import admin_change_data
from tests.sentiment.conftest import KeywordScorer
from tests.sentiment.factories import AlertFactory, AlertRuleFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(minute=30, second=0, microsecond=0)
TITLES = [
    "Kestrel shares plunge after profit warning",
    "Kestrel Airlines opens a new route to Oslo",
    "Fed holds interest rate steady",
    "Acme beats estimates and raises guidance",
    "Kestrel pilots strike over pay, flights grounded",
]


class GloomyScorer(KeywordScorer):
    """The 'promoted' model: it reads every text as negative."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray([[0.8, 0.15, 0.05]] * len(texts), dtype=np.float32)


def recount() -> dict[tuple[str, str, Any], list[float]]:
    """The aggregates worked out from scratch from the stored scores and entity tags."""
    expected: dict[tuple[str, str, Any], list[float]] = {}
    column = {"positive": 1, "neutral": 2, "negative": 3}
    for score in Score.objects.select_related("document"):
        hour = score.document.published_at.replace(minute=0, second=0, microsecond=0)
        entity_ids = DocumentEntity.objects.filter(document=score.document).values_list(
            "entity_id", flat=True
        )
        subjects = [("all", "all"), *(("entity", str(pk)) for pk in entity_ids)]
        subjects += [("topic", key) for key in score.topics]
        for kind, key in subjects:
            counts = expected.setdefault((kind, key, hour), [0, 0, 0, 0, 0.0])
            counts[0] += 1
            counts[column[score.label]] += 1
            counts[4] += score.value
    return expected


def assert_aggregates_match_a_recount() -> None:
    stored = {
        (a.subject_kind, a.subject_key, a.bucket_start): [
            a.n,
            a.n_positive,
            a.n_neutral,
            a.n_negative,
            a.score_sum,
        ]
        for a in Aggregate.objects.all()
    }
    expected = recount()
    assert stored.keys() == expected.keys()
    for key, counts in expected.items():
        assert stored[key][:4] == counts[:4], key
        assert stored[key][4] == pytest.approx(counts[4], abs=1e-9), key


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The batches handed to the scoring queue (instead of running them)."""
    batches: list[list[int]] = []
    monkeypatch.setattr(
        ingest,
        "documents_score_enqueue",
        lambda *, document_ids: batches.append(list(document_ids)),
    )
    return batches


def scored_by(
    source: Source, titles: Sequence[str], version: str, *, hours_ago: Sequence[int] = ()
) -> list[int]:
    """Ingest and score texts with the keyword model as `version`; the i-th text is published
    hours_ago[i] hours ago (default: spread over three hours)."""
    rows = [
        DocumentRow(
            i,
            "",
            "",
            title,
            "",
            NOW - timedelta(hours=hours_ago[i] if hours_ago else i % 3),
            "en",
        )
        for i, title in enumerate(titles)
    ]
    ids = services.documents_ingest(source_id=source.pk, rows=rows, now=NOW).created_ids
    services.documents_score(document_ids=ids, scorer=KeywordScorer(), version=version)
    return ids


def run_queue(queued: list[list[int]], scorer: KeywordScorer, version: str) -> None:
    while queued:
        services.documents_score(document_ids=queued.pop(0), scorer=scorer, version=version)


# -- rescoring -------------------------------------------------------------------------------------
def test_rescoring_an_old_version_replaces_its_scores_and_the_aggregates_follow(
    source, kestrel, queued
):  # type: ignore[no-untyped-def]
    old = scored_by(source, TITLES, "v1")
    queued.clear()
    before = Aggregate.objects.get(subject_kind="entity", subject_key=str(kestrel.pk), n=2)

    result = services.documents_rescore(model_version="v1")
    in_between = Document.objects.filter(pk__in=old, status=Document.Status.PENDING).count()
    run_queue(queued, GloomyScorer(), "v2")

    assert result.rescored == len(TITLES) and in_between == len(TITLES)
    assert set(Score.objects.values_list("model_version", flat=True)) == {"v2"}
    assert set(Score.objects.values_list("label", flat=True)) == {"negative"}
    assert before.n_negative < 2
    after = Aggregate.objects.get(
        subject_kind="entity", subject_key=str(kestrel.pk), bucket_start=before.bucket_start
    )
    assert (after.n, after.n_negative) == (2, 2)  # same texts, the new model's reading
    assert sum(Aggregate.objects.filter(subject_kind="all").values_list("n", flat=True)) == 5
    assert_aggregates_match_a_recount()


def test_rescoring_by_published_window_or_version_leaves_the_others_alone(source, queued):  # type: ignore[no-untyped-def]
    recent = scored_by(source, TITLES[:2], "v1", hours_ago=[1, 2])
    old = scored_by(source, TITLES[2:4], "v1", hours_ago=[24 * 10, 24 * 12])
    current = scored_by(source, TITLES[4:], "v2", hours_ago=[1])
    queued.clear()

    by_days = services.documents_rescore(model_version="v1", since=NOW - timedelta(days=3))
    run_queue(queued, GloomyScorer(), "v3")

    versions = dict(Score.objects.values_list("document_id", "model_version"))
    assert by_days.rescored == 2
    assert {versions[pk] for pk in recent} == {"v3"}
    assert {versions[pk] for pk in old} == {"v1"}
    assert {versions[pk] for pk in current} == {"v2"}
    assert_aggregates_match_a_recount()


def test_a_redelivered_or_repeated_rescore_does_not_count_twice(source, kestrel, queued):  # type: ignore[no-untyped-def]
    ids = scored_by(source, TITLES, "v1")
    queued.clear()
    asked_at = timezone.now()

    first = services.documents_rescore(since=NOW - timedelta(days=1), scored_before=asked_at)
    redelivered = services.documents_rescore(since=NOW - timedelta(days=1), scored_before=asked_at)
    run_queue(queued, GloomyScorer(), "v2")
    after_scoring = services.documents_rescore(
        since=NOW - timedelta(days=1), scored_before=asked_at
    )
    twice = services.documents_score(document_ids=ids, scorer=GloomyScorer(), version="v2")

    assert (first.rescored, redelivered.rescored, after_scoring.rescored) == (5, 0, 0)
    assert twice == [] and queued == []
    kestrel_rows = Aggregate.objects.filter(subject_kind="entity", subject_key=str(kestrel.pk))
    assert sum(kestrel_rows.values_list("n", flat=True)) == 3
    assert_aggregates_match_a_recount()


def test_rescoring_leaves_pending_in_progress_and_failed_texts_alone(source, queued):  # type: ignore[no-untyped-def]
    [scored, scoring, failed] = scored_by(source, TITLES[:3], "v1")
    Document.objects.filter(pk=scoring).update(status=Document.Status.SCORING)
    Document.objects.filter(pk=failed).update(status=Document.Status.FAILED)
    pending = services.documents_ingest(
        source_id=source.pk, rows=[DocumentRow(9, "", "", TITLES[3], "", NOW, "en")], now=NOW
    ).created_ids[0]
    queued.clear()

    result = services.documents_rescore(document_ids=[scored, scoring, failed, pending])

    statuses = dict(Document.objects.values_list("pk", "status"))
    assert result.rescored == 1 and queued == [[scored]]
    assert statuses[scored] == Document.Status.PENDING
    assert statuses[scoring] == Document.Status.SCORING
    assert statuses[failed] == Document.Status.FAILED
    assert statuses[pending] == Document.Status.PENDING
    assert Score.objects.filter(document_id=scoring).exists()


def test_a_large_rescore_commits_batch_by_batch(source, queued, monkeypatch):  # type: ignore[no-untyped-def]
    ids = scored_by(source, TITLES, "v1")
    queued.clear()
    real_batch = rescoring._documents_rescore_batch
    calls: list[list[int]] = []

    def third_batch_fails(**kwargs: Any) -> int:
        calls.append(kwargs["document_ids"])
        if len(calls) == 3:
            raise RuntimeError("worker lost")
        return real_batch(**kwargs)

    monkeypatch.setattr(rescoring, "_documents_rescore_batch", third_batch_fails)

    with pytest.raises(RuntimeError):
        services.documents_rescore(batch_size=2)

    done = sorted(ids)[:4]
    assert calls == [done[:2], done[2:], sorted(ids)[4:]]
    assert queued == [done[:2], done[2:]]  # each batch queued its own documents
    assert set(Document.objects.filter(pk__in=done).values_list("status", flat=True)) == {
        Document.Status.PENDING
    }
    assert Document.objects.get(pk=sorted(ids)[4]).status == Document.Status.SCORED
    assert_aggregates_match_a_recount()  # the committed batches left nothing half-done

    monkeypatch.setattr(rescoring, "_documents_rescore_batch", real_batch)
    services.documents_rescore(batch_size=2)  # run again: only what is still scored
    run_queue(queued, GloomyScorer(), "v2")
    assert Score.objects.filter(model_version="v2").count() == 5
    assert_aggregates_match_a_recount()


def test_rescoring_keeps_open_alerts_as_they_are(source, kestrel, analyst, queued):  # type: ignore[no-untyped-def]
    ids = scored_by(source, TITLES, "v1")
    rule = AlertRuleFactory(owner=analyst, name="Kestrel", delivery="none")
    alert = AlertFactory(
        rule=rule,
        subject_kind="entity",
        subject_key=str(kestrel.pk),
        subject_label="Kestrel Airlines",
        metric=rule.metric,
        value=0.6,
        baseline=0.1,
        window_start=NOW - timedelta(hours=6),
        window_end=NOW,
        reason="negative news piles up",
    )
    alert.documents.set(ids[:2])

    services.documents_rescore(document_ids=ids)
    run_queue(queued, KeywordScorer(), "v2")

    alert.refresh_from_db()
    assert (alert.status, alert.value, alert.episode_open) == (Alert.Status.OPEN, 0.6, True)
    assert sorted(alert.documents.values_list("pk", flat=True)) == sorted(ids[:2])


# -- deleting --------------------------------------------------------------------------------------
def test_deleting_documents_takes_them_out_of_the_aggregates(source, kestrel, queued):  # type: ignore[no-untyped-def]
    ids = scored_by(source, TITLES, "v1")
    pending = services.documents_ingest(
        source_id=source.pk, rows=[DocumentRow(9, "", "", "Kestrel jumps", "", NOW, "en")], now=NOW
    ).created_ids

    deleted = services.documents_delete(document_ids=[ids[0], ids[4], *pending], batch_size=2)

    assert deleted == 3
    assert Document.objects.count() == 3
    assert Aggregate.objects.get(subject_kind="entity", subject_key=str(kestrel.pk)).n == 1
    assert_aggregates_match_a_recount()

    services.documents_delete(document_ids=ids)  # the rest, and the gone ones again
    assert Aggregate.objects.count() == 0  # empty hours are gone, as if never counted


def test_deleting_after_a_rescore_subtracts_only_what_is_still_counted(source, queued):  # type: ignore[no-untyped-def]
    ids = scored_by(source, TITLES, "v1")
    queued.clear()

    services.documents_rescore(document_ids=ids[:2])  # claimed; not scored again yet
    services.documents_delete(document_ids=ids[:3])
    run_queue(queued, GloomyScorer(), "v2")  # the queued texts are gone: nothing to score

    assert Document.objects.count() == 2
    assert_aggregates_match_a_recount()


def test_a_hand_edited_bucket_does_not_block_a_delete(source, queued):  # type: ignore[no-untyped-def]
    [doc_id] = scored_by(source, TITLES[:1], "v1")
    Aggregate.objects.filter(subject_kind="all").update(n=0, n_negative=0)

    services.documents_delete(document_ids=[doc_id])

    assert not Document.objects.exists()
    assert not Aggregate.objects.filter(subject_kind="all").exists()


def test_deleting_a_source_over_the_api_takes_its_documents_out(analyst_client, source, queued):  # type: ignore[no-untyped-def]
    other = services.source_get_or_create(name="Other wire", kind=Source.Kind.API)
    scored_by(source, TITLES[:3], "v1")
    scored_by(other, TITLES[3:], "v1")

    response = analyst_client.delete(f"/api/sentiment/sources/{source.pk}/")

    assert response.status_code == 204
    assert not Source.objects.filter(pk=source.pk).exists()
    assert Document.objects.count() == 2
    assert_aggregates_match_a_recount()


def test_deleting_a_large_source_goes_in_batches(source, queued, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(deletion, "DOCUMENT_WRITE_BATCH", 2)
    scored_by(source, TITLES, "v1")

    deleted = services.source_delete(source_id=source.pk)

    assert deleted == 5 and not Source.objects.exists()
    assert Aggregate.objects.count() == 0


def test_admin_deletes_documents_and_sources_through_the_service(admin_client, source, queued):  # type: ignore[no-untyped-def]
    other = services.source_get_or_create(name="Other wire", kind=Source.Kind.API)
    third = services.source_get_or_create(name="Third wire", kind=Source.Kind.API)
    ids = scored_by(source, TITLES[:3], "v1")
    scored_by(other, TITLES[3:4], "v1")
    scored_by(third, TITLES[4:], "v1")

    bulk = admin_client.post(
        "/admin/sentiment/document/",
        {"action": "delete_selected", "_selected_action": ids[:2], "post": "yes"},
    )
    single = admin_client.post(f"/admin/sentiment/document/{ids[2]}/delete/", {"post": "yes"})
    assert (bulk.status_code, single.status_code) == (302, 302)
    assert Document.objects.count() == 2
    assert_aggregates_match_a_recount()

    source_single = admin_client.post(
        f"/admin/sentiment/source/{other.pk}/delete/", {"post": "yes"}
    )
    source_bulk = admin_client.post(
        "/admin/sentiment/source/",
        {"action": "delete_selected", "_selected_action": [third.pk], "post": "yes"},
    )
    assert (source_single.status_code, source_bulk.status_code) == (302, 302)
    assert not Document.objects.exists()
    assert Aggregate.objects.count() == 0


def test_admin_action_rescores_the_selected_documents(admin_client, source, queued):  # type: ignore[no-untyped-def]
    ids = scored_by(source, TITLES, "v1")
    Document.objects.filter(pk=ids[4]).update(status=Document.Status.FAILED)
    queued.clear()

    response = admin_client.post(
        "/admin/sentiment/document/",
        {"action": "rescore", "_selected_action": [ids[0], ids[1], ids[4]]},
        follow=True,
    )
    run_queue(queued, GloomyScorer(), "v2")

    text = response.content.decode()
    assert "2 documents queued for rescoring" in text and "1 skipped" in text
    rescored = Score.objects.filter(model_version="v2").values_list("document_id", flat=True)
    assert sorted(rescored) == [ids[0], ids[1]]
    assert_aggregates_match_a_recount()


def test_admin_cannot_change_the_scoring_state_or_drop_a_score_by_hand(source, queued):  # type: ignore[no-untyped-def]
    [doc_id] = scored_by(source, TITLES[:1], "v1")
    doc = Document.objects.get(pk=doc_id)
    request = RequestFactory().get("/")

    fields = DocumentAdmin(Document, admin.site).get_readonly_fields(request, doc)

    assert {"status", "published_at", "score_attempts"} <= set(fields)
    assert ScoreInline.can_delete is False


def test_admin_edit_of_a_scored_text_rescores_it(admin_client, source, queued):  # type: ignore[no-untyped-def]
    [doc_id, other_id] = scored_by(source, TITLES[:2], "v1")
    hash_before = Document.objects.get(pk=doc_id).content_hash
    queued.clear()
    url = f"/admin/sentiment/document/{doc_id}/change/"

    response = admin_client.post(
        url, admin_change_data(admin_client, url, title="Kestrel shares recover after warning")
    )
    edited = Document.objects.get(pk=doc_id)
    waiting = (edited.status, Score.objects.filter(document_id=doc_id).exists())
    assert_aggregates_match_a_recount()  # its old counts left with its old score
    run_queue(queued, GloomyScorer(), "v2")

    assert response.status_code == 302
    assert waiting == (Document.Status.PENDING, False)
    assert edited.title == "Kestrel shares recover after warning"
    assert edited.content_hash != hash_before
    assert Score.objects.get(document_id=doc_id).model_version == "v2"
    assert Score.objects.get(document_id=other_id).model_version == "v1"
    assert_aggregates_match_a_recount()


def test_admin_refuses_an_edit_that_copies_another_stored_text(admin_client, source, queued):  # type: ignore[no-untyped-def]
    doc_id = scored_by(source, TITLES[:2], "v1")[0]
    url = f"/admin/sentiment/document/{doc_id}/change/"

    response = admin_client.post(url, admin_change_data(admin_client, url, title=TITLES[1]))

    assert response.status_code == 200
    assert "another stored document has the same text" in response.content.decode()
    assert Document.objects.get(pk=doc_id).title == TITLES[0]
    assert Score.objects.get(document_id=doc_id).model_version == "v1"


def test_admin_shows_aggregates_and_corrections_but_writes_neither(admin_client, source, queued):  # type: ignore[no-untyped-def]
    scored_by(source, TITLES[:1], "v1")
    bucket = Aggregate.objects.filter(subject_kind="all").get()

    edit = admin_client.post(f"/admin/sentiment/aggregate/{bucket.pk}/change/", {"n": 99})
    delete = admin_client.post(f"/admin/sentiment/aggregate/{bucket.pk}/delete/", {"post": "yes"})

    assert (edit.status_code, delete.status_code) == (403, 403)
    assert Aggregate.objects.get(pk=bucket.pk).n == 1
    assert admin_client.get("/admin/sentiment/correction/add/").status_code == 403
    assert admin_client.get("/admin/sentiment/document/add/").status_code == 403


# -- the command -----------------------------------------------------------------------------------
@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentiment_rescore, "production_version", lambda: "v2")


def rescore(*args: str) -> str:
    out = StringIO()
    call_command("sentiment_rescore", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "say what to rescore"),
        (("--days", "0"), "--days must be at least 1"),
        (("--days", "three"), "invalid int value"),
        (("--since", "last week"), "is not a date"),
        (("--since", "2025-02-30"), "is not a date"),
        (("--since", "2999-01-01"), "in the future"),
        (("--days", "3", "--since", "2025-01-01"), "not allowed with argument"),
        (("--all", "--days", "3"), "--all rescores every scored text"),
        (("--until", "2025-01-01", "--version", "v1"), "--until needs --since"),
        (("--since", "2025-02-01", "--until", "2025-01-01"), "--until must be after --since"),
        (("--version", "v9"), "no text was scored by model version v9 (versions in use: v1)"),
    ],
)
def test_bad_command_arguments_are_refused_and_change_nothing(
    source, queued, production, args, message
):  # type: ignore[no-untyped-def]
    scored_by(source, TITLES[:2], "v1")
    queued.clear()

    with pytest.raises(CommandError, match=re.escape(message)):
        rescore(*args)

    assert queued == [] and Score.objects.count() == 2


def test_the_command_refuses_when_there_is_no_production_model(source, queued, monkeypatch):  # type: ignore[no-untyped-def]
    scored_by(source, TITLES[:2], "v1")
    monkeypatch.setattr(sentiment_rescore, "production_version", lambda: None)

    with pytest.raises(CommandError, match="no production sentiment model"):
        rescore("--all")

    assert Score.objects.count() == 2


def test_the_command_rescores_a_version_and_says_what_it_did(
    source, kestrel, scorer, production, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    scored_by(source, TITLES[:3], "v1")
    scored_by(source, TITLES[3:], "v0")

    dry = rescore("--version", "1", "--dry-run")
    with django_capture_on_commit_callbacks(execute=True):  # the queue runs eagerly here
        out = rescore("--version", "1")

    assert dry.strip() == "Would rescore 3 texts (scored by v1); nothing was changed."
    assert out.startswith("Rescoring 3 texts (scored by v1) with the production model v2, in 1 ")
    assert "Alerts already opened stay as they are" in out
    versions = sorted(Score.objects.values_list("model_version", flat=True))
    assert versions == ["test", "test", "test", "v0", "v0"]  # the fixture's stand-in scored them
    assert_aggregates_match_a_recount()


def test_the_command_rescores_the_last_days_or_everything(source, queued, production):  # type: ignore[no-untyped-def]
    scored_by(source, TITLES[:2], "v1", hours_ago=[2, 24 * 5])
    scored_by(source, TITLES[2:4], "v2", hours_ago=[3, 24 * 9])
    queued.clear()

    recent = rescore("--days", "2")
    everything = rescore("--all")

    assert recent.startswith("Rescoring 2 texts (published since ")
    assert everything.startswith("Rescoring 2 texts (every scored text)")
    assert Document.objects.filter(status=Document.Status.PENDING).count() == 4
    assert not Aggregate.objects.exists()
