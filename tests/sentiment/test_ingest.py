"""Pushing and uploading documents: times read as UTC, text that cannot be stored, and source
names that belong to a feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.sentiment import services
from apps.sentiment.models import Document, Source
from apps.sentiment.uploads import DocumentRow

pytestmark = pytest.mark.django_db


def test_a_naive_published_time_pushed_to_the_api_means_utc_whatever_the_time_zone(  # type: ignore[no-untyped-def]
    analyst_client,
    settings,
) -> None:
    settings.TIME_ZONE = "America/New_York"
    row = {"title": "Kestrel Airlines cuts routes", "published_at": "2025-06-10T08:00:00"}
    upload = SimpleUploadedFile(
        "wire.jsonl", json.dumps({**row, "title": "Kestrel Airlines adds routes"}).encode()
    )

    pushed = analyst_client.post("/api/sentiment/ingest/", row, content_type="application/json")
    uploaded = analyst_client.post("/api/sentiment/upload/", {"file": upload})

    assert pushed.status_code == 201 and uploaded.status_code == 201
    times = {d.title: d.published_at for d in Document.objects.all()}
    assert times == {
        "Kestrel Airlines cuts routes": datetime(2025, 6, 10, 8, 0, tzinfo=UTC),
        "Kestrel Airlines adds routes": datetime(2025, 6, 10, 8, 0, tzinfo=UTC),
    }


def test_the_api_takes_a_unix_timestamp_like_an_upload_and_reports_a_bad_time(  # type: ignore[no-untyped-def]
    analyst_client,
) -> None:
    response = analyst_client.post(
        "/api/sentiment/ingest/",
        {
            "documents": [
                {"title": "Aion Intelligence beats estimates", "published_at": 1749542400},
                {"title": "Aion Intelligence misses", "published_at": "last Tuesday"},
            ]
        },
        content_type="application/json",
    )

    assert response.status_code == 201
    [error] = response.json()["errors"]
    assert error["line"] == 2 and "is not an ISO 8601 date-time" in error["error"]
    doc = Document.objects.get()
    assert doc.published_at == datetime(2025, 6, 10, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "content", "nul_line"),
    [
        (
            "wire.jsonl",
            b'{"title": "Kestrel Airlines cuts routes"}\n'
            b'{"title": "Aion \\u0000 beats estimates"}\n'
            b'{"title": "Half \\udc00 a character"}\n',
            2,
        ),
        (
            "wire.csv",
            b"title,body\nKestrel Airlines cuts routes,\nAion \x00 beats estimates,\n"
            b"Half a character,fine\n",
            3,
        ),
    ],
)
def test_an_upload_with_unstorable_characters_reports_the_line_and_keeps_the_rest(  # type: ignore[no-untyped-def]
    analyst_client,
    name: str,
    content: bytes,
    nul_line: int,
) -> None:
    response = analyst_client.post(
        "/api/sentiment/upload/", {"file": SimpleUploadedFile(name, content)}
    )

    assert response.status_code == 201
    errors = {e["line"]: e["error"] for e in response.json()["errors"]}
    assert errors.pop(nul_line) == (
        "title contains a NUL character (at character 6), which cannot be stored"
    )
    if name.endswith(".jsonl"):
        assert errors == {
            3: "title contains an unpaired UTF-16 surrogate (at character 6), which cannot "
            "be stored"
        }
    else:
        assert errors == {}
    assert "\x00" not in "".join(Document.objects.values_list("title", flat=True))
    assert Document.objects.filter(title="Kestrel Airlines cuts routes").exists()


def test_the_ingest_service_reports_a_row_it_cannot_store(db) -> None:  # type: ignore[no-untyped-def]
    source = services.source_get_or_create(name="Direct", kind=Source.Kind.API)
    rows = [
        DocumentRow(1, "", "", "Kestrel Airlines cuts routes", "", None, "en"),
        DocumentRow(2, "", "", "Aion \x00 beats", "", None, "en"),
    ]

    result = services.documents_ingest(source_id=source.pk, rows=rows)

    assert result.created == 1
    [error] = result.errors
    assert error == {
        "line": 2,
        "error": "title contains a NUL character (at character 6), which cannot be stored",
    }


@pytest.fixture
def feed(db: Any, scorer: Any) -> Source:
    source = services.source_get_or_create(
        name="Reuters", kind=Source.Kind.RSS, url="https://feeds.example.com/reuters.xml"
    )
    row = DocumentRow(1, "r-1", "https://n.example/r1", "Acme beats estimates", "", None, "")
    services.documents_ingest(source_id=source.pk, rows=[row], errors=[])
    return source


def _feed_untouched(feed: Source) -> None:
    assert list(Document.objects.values_list("source_id", flat=True)) == [feed.pk]
    assert Source.objects.get(pk=feed.pk).kind == Source.Kind.RSS


def test_a_push_naming_a_feed_is_refused(feed, analyst_client) -> None:  # type: ignore[no-untyped-def]
    batch = analyst_client.post(
        "/api/sentiment/ingest/",
        {"source": "Reuters", "documents": [{"title": "Acme shares plunge"}]},
        content_type="application/json",
    )
    one = analyst_client.post(
        "/api/sentiment/ingest/",
        {"source": "Reuters", "title": "Acme shares plunge"},
        content_type="application/json",
    )

    assert batch.status_code == 400 and one.status_code == 400
    message = batch.json()["source"][0]
    assert "Reuters" in message and "RSS feed" in message and "another" in message
    _feed_untouched(feed)


def test_an_upload_naming_a_feed_is_refused_by_the_api_and_the_page(feed, analyst_client) -> None:  # type: ignore[no-untyped-def]
    content = b"title,body\nAcme shares plunge,\n"
    api = analyst_client.post(
        "/api/sentiment/upload/",
        {"file": SimpleUploadedFile("news.csv", content), "source": "Reuters"},
    )
    page = analyst_client.post(
        reverse("sentiment:upload"),
        {"file": SimpleUploadedFile("news.csv", content), "source": "Reuters"},
    )

    assert api.status_code == 400 and "RSS feed" in api.json()["source"][0]
    assert page.status_code == 400
    assert "is the name of an RSS feed" in page.content.decode()
    assert page.context["form"].errors["source"]
    _feed_untouched(feed)


def test_the_admin_refuses_an_upload_into_a_feed(feed, admin_client) -> None:  # type: ignore[no-untyped-def]
    changelist = admin_client.get(reverse("admin:sentiment_source_changelist"))
    response = admin_client.post(
        reverse("admin:sentiment_source_upload", args=[feed.pk]),
        {"file": SimpleUploadedFile("news.csv", b"title,body\nAcme shares plunge,\n")},
    )

    upload_link = reverse("admin:sentiment_source_upload", args=[feed.pk])
    assert upload_link not in changelist.content.decode()
    assert response.status_code == 400
    assert "is the name of an RSS feed" in response.content.decode()
    _feed_untouched(feed)


def test_pushes_and_uploads_into_their_own_sources_still_work(feed, analyst_client) -> None:  # type: ignore[no-untyped-def]
    pushed = analyst_client.post(
        "/api/sentiment/ingest/",
        {"source": "Wire", "documents": [{"title": "Acme shares plunge"}]},
        content_type="application/json",
    )
    uploaded = analyst_client.post(
        "/api/sentiment/upload/",
        {"file": SimpleUploadedFile("news.csv", b"title,body\nKestrel wins,\n"), "source": "Wire"},
    )

    assert pushed.status_code == 201 and uploaded.status_code == 201
    assert Document.objects.filter(source__name="Wire").count() == 2
