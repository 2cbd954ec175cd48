"""The REST API and the pages an analyst uses, and the API's filters: unknown values, dates and
time offsets are a 400, not an empty list or a server error."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.sentiment import services
from apps.sentiment.models import AlertRule, Document, Entity
from tests.sentiment.conftest import rule_form
from tests.sentiment.factories import AlertFactory

pytestmark = pytest.mark.django_db


def test_ingest_one_document_and_a_batch_with_a_bad_item(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    one = analyst_client.post(
        "/api/sentiment/ingest/",
        {"title": "Acme beats estimates", "url": "https://n.example/1"},
        content_type="application/json",
    )
    batch = analyst_client.post(
        "/api/sentiment/ingest/",
        {
            "source": "Wire",
            "documents": [
                {"title": "Acme shares plunge", "published_at": "2025-06-10T08:00:00Z"},
                {"title": "", "body": ""},
                {"title": "Bad date", "published_at": "yesterday"},
                {"title": "Acme beats estimates"},
            ],
        },
        content_type="application/json",
    )

    assert one.status_code == 201 and one.json()["created"] == 1
    body = batch.json()
    assert batch.status_code == 201
    assert body["created"] == 1 and body["duplicates"] == 1
    assert [e["line"] for e in body["errors"]] == [2, 3]
    assert "title or a body" in body["errors"][0]["error"]
    assert Document.objects.count() == 2


def test_ingest_with_only_bad_items_is_a_400(analyst_client) -> None:  # type: ignore[no-untyped-def]
    response = analyst_client.post(
        "/api/sentiment/ingest/", {"documents": [{"url": "nope"}]}, content_type="application/json"
    )
    assert response.status_code == 400
    assert Document.objects.count() == 0


def test_upload_reports_bad_lines_and_keeps_good_rows(analyst_client) -> None:  # type: ignore[no-untyped-def]
    csv_file = SimpleUploadedFile(
        "news.csv",
        (
            b"title,body,url,published_at\n"
            b"Acme wins contract,Big deal,https://n.example/a,2025-06-01T10:00:00\n"
            b",,,\n"
            b"Acme delays launch,,ftp://n.example/b,\n"
            b"Acme opens office,,,not-a-date\n"
            b"Acme hires CFO,,,\n"
        ),
    )
    jsonl_file = SimpleUploadedFile("news.jsonl", b'{"title": "Acme record quarter"}\n{oops\n')

    csv_resp = analyst_client.post("/api/sentiment/upload/", {"file": csv_file})
    jsonl_resp = analyst_client.post("/api/sentiment/upload/", {"file": jsonl_file})

    assert csv_resp.status_code == 201
    assert csv_resp.json()["created"] == 2
    assert {e["line"] for e in csv_resp.json()["errors"]} == {3, 4, 5}
    assert jsonl_resp.json()["created"] == 1
    assert "not valid JSON" in jsonl_resp.json()["errors"][0]["error"]


def test_upload_of_an_unusable_file_is_a_clear_400(analyst_client) -> None:  # type: ignore[no-untyped-def]
    wrong_type = analyst_client.post(
        "/api/sentiment/upload/", {"file": SimpleUploadedFile("a.pdf", b"%PDF")}
    )
    no_columns = analyst_client.post(
        "/api/sentiment/upload/", {"file": SimpleUploadedFile("a.csv", b"foo,bar\n1,2\n")}
    )

    assert wrong_type.status_code == 400 and ".csv" in json.dumps(wrong_type.json())
    assert no_columns.status_code == 400 and "header row" in json.dumps(no_columns.json())


def test_documents_trends_and_corrections(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    acme = services.entity_upsert(name="Acme Corp", ticker="ACME", aliases=["Acme"])
    analyst_client.post(
        "/api/sentiment/ingest/",
        {"documents": [{"title": "Acme shares plunge"}, {"title": "Acme beats estimates"}]},
        content_type="application/json",
    )
    services.documents_score(document_ids=list(Document.objects.values_list("pk", flat=True)))

    docs = analyst_client.get(f"/api/sentiment/documents/?entity={acme.pk}&label=negative")
    trend = analyst_client.get(f"/api/sentiment/trends/?subject=entity:{acme.pk}&days=1")
    doc_id = docs.json()["results"][0]["id"]
    fix = analyst_client.post(
        f"/api/sentiment/documents/{doc_id}/correct/",
        {"label": "neutral"},
        content_type="application/json",
    )
    bad = analyst_client.get("/api/sentiment/trends/?subject=planet:mars")

    assert [d["title"] for d in docs.json()["results"]] == ["Acme shares plunge"]
    assert docs.json()["results"][0]["score"]["label"] == "negative"
    assert sum(trend.json()["volume"]) == 2 and sum(trend.json()["negative"]) == 1
    assert fix.status_code == 201 and fix.json()["predicted_label"] == "negative"
    assert bad.status_code == 400


def test_rules_watchlist_and_alert_actions(analyst_client, analyst) -> None:  # type: ignore[no-untyped-def]
    entity = analyst_client.post(
        "/api/sentiment/watchlist/",
        {"name": "Allmark Insurance", "ticker": "ALL", "aliases": ["Allmark"]},
        content_type="application/json",
    )
    rule = analyst_client.post(
        "/api/sentiment/rules/",
        {
            "name": "Allmark",
            "entities": [entity.json()["id"]],
            "metric": "negative_share",
            "sensitivity": 2.5,
            "window_hours": 6,
            "min_volume": 5,
        },
        content_type="application/json",
    )
    invalid = analyst_client.post(
        "/api/sentiment/rules/", {"name": "x", "mode": "threshold"}, content_type="application/json"
    )
    alert = AlertFactory(
        rule=AlertRule.objects.get(),
        subject_kind="entity",
        subject_key="1",
        subject_label="Allmark",
        metric="negative_share",
        value=0.6,
        baseline=0.1,
        window_start="2025-06-10T00:00Z",
        window_end="2025-06-10T06:00Z",
        reason="test",
    )
    ack = analyst_client.post(f"/api/sentiment/alerts/{alert.pk}/acknowledge/")

    assert entity.status_code == 201
    # "ALL" is an everyday word, so the watchlist marks it as needing context.
    assert Entity.objects.get().ticker_needs_context
    assert rule.status_code == 201 and rule.json()["owner"] == "ann"
    assert invalid.status_code == 400 and "threshold" in invalid.json()
    assert ack.json()["status"] == "acknowledged"


def test_api_and_pages_need_the_analyst_role(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    outsider = django_user_model.objects.create_user("bob", password="pw-bob-123")
    client.force_login(outsider)

    assert client.get("/api/sentiment/documents/").status_code == 403
    assert client.get("/sentiment/").status_code == 403


def test_schema_lists_the_sentiment_endpoints(analyst_client) -> None:  # type: ignore[no-untyped-def]
    schema = analyst_client.get("/api/schema/?format=json").json()
    paths = set(schema["paths"])
    for expected in (
        "/api/sentiment/ingest/",
        "/api/sentiment/upload/",
        "/api/sentiment/trends/",
        "/api/sentiment/alerts/{id}/resolve/",
        "/api/sentiment/rules/",
        "/api/sentiment/watchlist/",
        "/api/sentiment/documents/{id}/correct/",
    ):
        assert expected in paths


def test_pages_render_for_an_analyst(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    services.entity_upsert(name="Acme Corp", ticker="ACME")
    analyst_client.post(
        "/api/sentiment/ingest/", {"title": "Acme shares plunge"}, content_type="application/json"
    )
    services.documents_score(document_ids=list(Document.objects.values_list("pk", flat=True)))
    doc = Document.objects.get()

    for url in (
        "/sentiment/",
        "/sentiment/feed/?label=negative",
        "/sentiment/watchlist/",
        "/sentiment/rules/",
        "/sentiment/sources/",
        "/sentiment/upload/",
        f"/sentiment/documents/{doc.pk}/",
    ):
        response = analyst_client.get(url)
        assert response.status_code == 200, url
    feed = analyst_client.get("/sentiment/feed/?label=negative").content.decode()
    assert "Acme shares plunge" in feed
    assert (
        "Acme shares plunge"
        not in analyst_client.get("/sentiment/feed/?label=positive").content.decode()
    )


def test_upload_page_shows_line_errors(analyst_client) -> None:  # type: ignore[no-untyped-def]
    data = io.BytesIO(b"title,body\nGood one,\n,\n")
    data.name = "x.csv"
    response = analyst_client.post("/sentiment/upload/", {"file": data, "source": "Uploads"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "<b>1</b> stored" in page and "needs a title or a body" in page


def test_rule_form_and_correction_from_the_page(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    response = analyst_client.post("/sentiment/rules/", rule_form(name="Everything"))
    analyst_client.post(
        "/api/sentiment/ingest/", {"title": "Acme beats"}, content_type="application/json"
    )
    doc = Document.objects.get()
    services.documents_score(document_ids=[doc.pk])
    analyst_client.post(f"/sentiment/documents/{doc.pk}/", {"label": "neutral"})

    assert response.status_code == 302 and AlertRule.objects.get().name == "Everything"
    assert doc.corrections.get().label == "neutral"


def test_documents_with_an_unknown_topic_are_a_400_not_an_empty_list(  # type: ignore[no-untyped-def]
    analyst_client, scored_document
) -> None:
    typo = analyst_client.get("/api/sentiment/documents/?topic=earning")
    known = analyst_client.get("/api/sentiment/documents/?topic=earnings")

    assert typo.status_code == 400 and "unknown topic 'earning'" in typo.json()["topic"]
    assert known.status_code == 200


@pytest.mark.parametrize("offset", ["+22:06", "-20:11"])
def test_a_time_filter_with_an_offset_postgresql_cannot_hold_is_read_in_utc(analyst_client, offset):  # type: ignore[no-untyped-def]
    from datetime import UTC

    from apps.sentiment.api import _moment

    response = analyst_client.get(
        "/api/sentiment/documents/", {"published_after": f"2025-03-26T02:50:57{offset}"}
    )
    moment = _moment({"published_after": f"2025-03-26T02:50:57{offset}"}, "published_after")

    assert response.status_code == 200
    assert moment is not None and moment.tzinfo is UTC


def test_a_time_filter_past_year_9999_in_utc_is_a_400(analyst_client):  # type: ignore[no-untyped-def]
    response = analyst_client.get(
        "/api/sentiment/documents/", {"published_before": "9999-12-31T23:00:00-05:00"}
    )

    assert response.status_code == 400
    assert "out of range" in str(response.json())


def test_documents_filter_by_published_date_and_refuse_a_bad_date(analyst_client, scorer):  # type: ignore[no-untyped-def]
    for title, when in (
        ("Acme opens a plant", "2025-06-09T23:30:00Z"),
        ("Acme shares plunge", "2025-06-10T08:00:00Z"),
        ("Acme beats estimates", "2025-06-11T00:00:00Z"),
    ):
        analyst_client.post(
            "/api/sentiment/ingest/",
            {"title": title, "published_at": when},
            content_type="application/json",
        )

    day = analyst_client.get(
        "/api/sentiment/documents/?published_after=2025-06-10&published_before=2025-06-11"
    )
    since = analyst_client.get("/api/sentiment/documents/?published_after=2025-06-10T08:00Z")
    bad = analyst_client.get("/api/sentiment/documents/?published_after=yesterday")
    impossible = analyst_client.get("/api/sentiment/documents/?published_before=2025-02-30")
    misspelt = analyst_client.get("/api/sentiment/documents/?label=negatve")

    assert [d["title"] for d in day.json()["results"]] == ["Acme shares plunge"]
    assert [d["title"] for d in since.json()["results"]] == [
        "Acme beats estimates",
        "Acme shares plunge",
    ]
    assert bad.status_code == 400 and "published_after" in bad.json()
    assert impossible.status_code == 400 and "published_before" in impossible.json()
    assert misspelt.status_code == 400 and "label" in misspelt.json()


def test_an_unknown_alert_status_or_an_empty_trend_range_is_a_400(analyst_client):  # type: ignore[no-untyped-def]
    typo = analyst_client.get("/api/sentiment/alerts/?status=acked")
    fine = analyst_client.get("/api/sentiment/alerts/?status=acknowledged")
    no_days = analyst_client.get("/api/sentiment/trends/?days=0")
    wider_than_range = analyst_client.get("/api/sentiment/trends/?days=1&bucket_hours=168")
    schema = analyst_client.get("/api/schema/?format=json").json()
    params = schema["paths"]["/api/sentiment/alerts/"]["get"]["parameters"]

    assert typo.status_code == 400 and "status" in typo.json()
    assert fine.status_code == 200
    assert no_days.status_code == 400
    assert wider_than_range.status_code == 400
    assert any(p["name"] == "status" for p in params)


def test_entity_zero_is_a_company_not_on_the_watchlist_not_no_filter(  # type: ignore[no-untyped-def]
    kestrel, analyst_client, scorer
):
    analyst_client.post(
        "/api/sentiment/ingest/",
        {"documents": [{"title": "Kestrel shares plunge"}, {"title": "Acme wins"}]},
        content_type="application/json",
    )

    everything = analyst_client.get("/api/sentiment/documents/").json()
    zero = analyst_client.get("/api/sentiment/documents/?entity=0")
    unknown = analyst_client.get("/api/sentiment/documents/?entity=999999")
    source_zero = analyst_client.get("/api/sentiment/documents/?source=0")

    assert everything["count"] == 2
    assert zero.status_code == unknown.status_code == source_zero.status_code == 200
    assert zero.json()["count"] == unknown.json()["count"] == source_zero.json()["count"] == 0
