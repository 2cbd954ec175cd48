"""Sentiment per company: passages per company, stored company scores, the aggregates, alerts,
the feed's label filter, the document page and the API all use the company's own score."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.sentiment import selectors, services
from apps.sentiment.company_text import clauses_split, company_passages
from apps.sentiment.models import Aggregate, Alert, AlertRule, DocumentEntity, Entity, Source
from apps.sentiment.text import WatchItem
from apps.sentiment.uploads import DocumentRow
from tests.sentiment.conftest import rule_create

NOW = timezone.now().replace(minute=30, second=0, microsecond=0)
ACME = WatchItem(1, "Acme Corp", "ACME", ("Acme",), False)
BOLT = WatchItem(2, "Bolt Motors", "BOLT", ("Bolt",), False)
TENCENT = WatchItem(3, "腾讯", "TCEHY", ("腾讯控股",), False)
ALIBABA = WatchItem(4, "阿里巴巴", "BABA", (), False)


def test_a_contrast_cuts_a_sentence_into_one_clause_per_company() -> None:
    found = company_passages("Acme beats estimates, while rival Bolt slumps", "", [ACME, BOLT])

    assert found == {1: [("Acme beats estimates", 1.0)], 2: [("while rival Bolt slumps", 1.0)]}


def test_a_list_of_companies_stays_one_clause_for_each() -> None:
    text = "Acme, Bolt and two smaller rivals fell sharply"
    found = company_passages(text, "", [ACME, BOLT])

    assert found == {1: [(text, 1.0)], 2: [(text, 1.0)]}
    # A piece too short to be a clause stays with the one before it.
    assert clauses_split("Shares of Acme fell, and Bolt") == ["Shares of Acme fell, and Bolt"]


def test_sentences_without_a_name_continue_the_company_before_them() -> None:
    found = company_passages(
        "Mixed day for carmakers",
        "Acme raised its outlook. Its shares rose 5%. Bolt cut jobs; its stock dropped.",
        [ACME, BOLT],
    )

    assert [text for text, _w in found[1]] == ["Acme raised its outlook.", "Its shares rose 5%."]
    # A sentence naming one company is not cut.
    assert [text for text, _w in found[2]] == ["Bolt cut jobs; its stock dropped."]


def test_chinese_clauses_are_cut_at_er_and_dan() -> None:
    found = company_passages("腾讯业绩超预期，而阿里巴巴股价大跌", "", [TENCENT, ALIBABA])

    assert found == {3: [("腾讯业绩超预期", 1.0)], 4: [("而阿里巴巴股价大跌", 1.0)]}


def row(i: int, title: str, when: Any = None) -> DocumentRow:
    return DocumentRow(i, "", "", title, "", when or NOW, "en")


@pytest.fixture
def falcon(db: Any) -> Entity:
    return services.entity_upsert(name="Falcon Air", ticker="FLCN", aliases=["Falcon"])


def score(source: Source, rows: list[DocumentRow]) -> list[int]:
    created = services.documents_ingest(source_id=source.pk, rows=rows, now=NOW).created_ids
    return services.documents_score(document_ids=created)


@pytest.mark.django_db
def test_each_company_of_a_text_gets_its_own_score_and_aggregate(
    source: Source, kestrel: Entity, falcon: Entity, scorer: Any
) -> None:
    [doc_id] = score(source, [row(1, "Falcon beats estimates, while rival Kestrel shares plunge")])

    tags = {t.entity_id: t for t in DocumentEntity.objects.filter(document_id=doc_id)}
    assert tags[falcon.pk].label == "positive" and tags[falcon.pk].value > 0.5
    assert tags[kestrel.pk].label == "negative" and tags[kestrel.pk].value < -0.5
    assert [p["text"] for p in tags[kestrel.pk].passages] == ["while rival Kestrel shares plunge"]
    buckets = {a.subject_key: a for a in Aggregate.objects.filter(subject_kind="entity", n__gt=0)}
    assert (buckets[str(falcon.pk)].n_positive, buckets[str(falcon.pk)].n_negative) == (1, 0)
    assert (buckets[str(kestrel.pk)].n_positive, buckets[str(kestrel.pk)].n_negative) == (0, 1)

    # Rescoring takes out exactly what the company scores added.
    services.documents_rescore(document_ids=[doc_id])
    assert not Aggregate.objects.filter(subject_kind="entity").exists()


@pytest.mark.django_db
def test_a_text_naming_one_company_gives_it_the_texts_score(
    source: Source, kestrel: Entity, falcon: Entity, scorer: Any
) -> None:
    [doc_id] = score(source, [row(1, "Kestrel shares plunge as fuel costs jump")])

    tag = DocumentEntity.objects.get(document_id=doc_id)
    assert tag.entity_id == kestrel.pk and tag.passages == []
    assert (tag.label, tag.value) == (tag.document.score.label, tag.document.score.value)


@pytest.mark.django_db
def test_deleting_a_text_takes_each_companys_own_count_out(
    source: Source, kestrel: Entity, falcon: Entity, scorer: Any
) -> None:
    score(source, [row(1, "Falcon beats estimates")])
    [doc_id] = score(source, [row(2, "Falcon beats estimates, while rival Kestrel shares plunge")])

    services.documents_delete(document_ids=[doc_id])

    left = Aggregate.objects.get(subject_kind="entity", subject_key=str(falcon.pk))
    assert (left.n, left.n_positive) == (1, 1)
    assert not Aggregate.objects.filter(subject_key=str(kestrel.pk)).exists()


@pytest.mark.django_db
def test_alerts_fire_for_the_company_that_slumps_not_its_rival(
    source: Source, kestrel: Entity, falcon: Entity, scorer: Any, analyst: Any
) -> None:
    history = [
        row(w * 100 + k, f"Kestrel and Falcon route update #{w}-{k}", NOW - timedelta(hours=6 * w))
        for w in range(1, 11)
        for k in range(5)
    ]
    score(source, history)
    spike = [
        row(9000 + k, f"Falcon beats estimates, while rival Kestrel shares plunge #{k}", NOW)
        for k in range(6)
    ]
    score(source, spike)
    for company in (kestrel, falcon):
        rule_create(analyst, [company], name=company.name, metric=AlertRule.Metric.NEGATIVE_SHARE)

    services.alerts_evaluate(now=NOW + timedelta(minutes=5))

    fired = Alert.objects.get()
    assert fired.subject_key == str(kestrel.pk) and fired.value == pytest.approx(1.0)
    assert fired.documents.count() == 5


@pytest.mark.django_db
def test_the_feed_filters_a_company_by_its_own_label(
    source: Source, kestrel: Entity, falcon: Entity, scorer: Any
) -> None:
    [doc_id] = score(source, [row(1, "Falcon beats estimates, while rival Kestrel shares plunge")])

    def ids(entity: Entity, label: str) -> list[int]:
        feed = selectors.document_feed(entity_id=entity.pk, label=label)
        return list(feed.values_list("pk", flat=True))

    assert ids(falcon, "positive") == [doc_id] and ids(falcon, "negative") == []
    assert ids(kestrel, "negative") == [doc_id] and ids(kestrel, "positive") == []


@pytest.mark.django_db
def test_the_document_page_and_api_show_each_companys_score(
    source: Source, kestrel: Entity, falcon: Entity, scorer: Any, analyst_client: Any
) -> None:
    [doc_id] = score(source, [row(1, "Falcon beats estimates, while rival Kestrel shares plunge")])

    page = analyst_client.get(reverse("sentiment:document", args=[doc_id])).content.decode()
    assert "Per company" in page and "while rival Kestrel shares plunge" in page
    body = analyst_client.get(f"/api/sentiment/documents/{doc_id}/").json()
    labels = {c["name"]: c["label"] for c in body["companies"]}
    assert labels == {"Falcon Air": "positive", "Kestrel Airlines": "negative"}
