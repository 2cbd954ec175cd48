"""Ingest that must not fall over: long CSV fields, odd JSON values, bad batch items, feed URLs,
ticker normalisation on every write path, polling a non-feed, and the admin upload."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.sentiment import services, uploads
from apps.sentiment.feeds import BUNDLED_FEEDS, FeedError, feed_fetch
from apps.sentiment.models import Document, Entity, Source
from apps.sentiment.text import WatchItem, entities_match
from apps.sentiment.uploads import datetime_parse, documents_read, labelled_read

pytestmark = pytest.mark.django_db

LONG_BODY = "Acme Corp reported record quarterly revenue. " * 5000  # ~225 KiB, over csv's 128 KiB


@pytest.fixture
def csv_limit() -> Iterator[None]:
    """csv.field_size_limit is process-wide; put it back after a test that lowers it."""
    before = csv.field_size_limit()
    yield
    csv.field_size_limit(before)


def _csv_upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


# -- 1. CSV fields longer than Python's 128 KiB default --------------------------------------------
def test_api_upload_keeps_a_long_article_body(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = f"title,body\nLong read,{LONG_BODY}\nShort one,Acme shares rise\n".encode()

    response = analyst_client.post(
        "/api/sentiment/upload/", {"file": _csv_upload("long.csv", content), "source": "Bulk"}
    )

    assert response.status_code == 201, response.content[:300]
    assert response.json()["created"] == 2 and response.json()["errors"] == []
    assert Document.objects.get(title="Long read").body == LONG_BODY.strip()


def test_upload_page_keeps_a_long_article_body(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = f"title,body\nLong read,{LONG_BODY}\n".encode()

    response = analyst_client.post(
        reverse("sentiment:upload"), {"file": _csv_upload("long.csv", content), "source": "Bulk"}
    )

    assert response.status_code == 200
    assert Document.objects.filter(title="Long read").count() == 1


def test_a_field_over_the_limit_is_a_line_error_and_earlier_rows_are_kept(  # type: ignore[no-untyped-def]
    monkeypatch, csv_limit
) -> None:
    monkeypatch.setattr(uploads, "MAX_FIELD_CHARS", 1024 * 1024)
    huge = "x" * (1024 * 1024 + 10)
    content = f"title,body\nFirst,fine\nSecond,fine too\nHuge,{huge}\n".encode()

    rows, errors = documents_read(content, "news.csv")

    assert [r.title for r in rows] == ["First", "Second"]
    assert len(errors) == 1 and errors[0].line == 4
    assert "longer than 1 MiB" in errors[0].reason


def test_training_commands_read_long_sentences_and_turn_bad_csv_into_a_command_error(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch, csv_limit
) -> None:
    long_ok = tmp_path / "long.csv"
    long_ok.write_text(f"sentence,label\n{LONG_BODY.strip()},positive\nShares fell,negative\n")
    rows, errors = labelled_read(long_ok.read_bytes(), long_ok.name)
    assert len(rows) == 2 and errors == []

    monkeypatch.setattr(uploads, "MAX_FIELD_CHARS", 1024 * 1024)
    too_long = tmp_path / "too_long.csv"
    too_long.write_text(f"sentence,label\nFine,neutral\n{'y' * (1024 * 1024 + 10)},positive\n")
    with pytest.raises(CommandError, match="line 3: unreadable CSV"):
        call_command("sentiment_evaluate", data=str(too_long))


# -- 2. odd JSON values in uploads and in the push API ---------------------------------------------
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1e20", "not a Unix timestamp in range"),
        ("-1e15", "not a Unix timestamp in range"),
        ("NaN", "not a Unix timestamp in range"),
        ("Infinity", "not a Unix timestamp in range"),
        ("true", "not bool"),
        ('{"at": 1}', "not dict"),
        ('"0001-01-01T00:00:00+05:00"', "out of range"),
    ],
)
def test_jsonl_published_at_odd_values_are_line_errors(  # type: ignore[no-untyped-def]
    analyst_client, scorer, value: str, reason: str
) -> None:
    content = (
        b'{"title": "Acme wins contract", "published_at": 1750000000}\n'
        + f'{{"title": "Odd date", "published_at": {value}}}\n'.encode()
    )

    response = analyst_client.post(
        "/api/sentiment/upload/",
        {"file": SimpleUploadedFile("news.jsonl", content), "source": "Bulk"},
    )

    assert response.status_code == 201, response.content[:300]
    body = response.json()
    assert body["created"] == 1
    assert [e["line"] for e in body["errors"]] == [2]
    assert reason in body["errors"][0]["error"]


def test_jsonl_title_and_body_must_be_text(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = (
        b'{"title": {"en": "Nested"}, "body": "x"}\n'
        b'{"title": "Fine", "body": ["a", "list"]}\n'
        b'{"title": true}\n'
        b'{"title": 2025, "body": "numbers are fine as text"}\n'
    )

    rows, errors = documents_read(content, "news.jsonl")

    assert [(e.line, e.reason) for e in errors] == [
        (1, "title must be text, not dict"),
        (2, "body must be text, not list"),
        (3, "title must be text, not bool"),
    ]
    assert [r.title for r in rows] == ["2025"]


def test_datetime_parse_answers_in_utc() -> None:
    parsed = datetime_parse("2025-06-10T10:00:00+02:00")
    assert parsed == datetime(2025, 6, 10, 8, tzinfo=UTC) and parsed.tzinfo is UTC


# -- 5. one bad batch item does not refuse the batch -----------------------------------------------
def test_batch_items_that_are_not_objects_are_reported_and_the_others_stored(  # type: ignore[no-untyped-def]
    analyst_client, scorer
) -> None:
    response = analyst_client.post(
        "/api/sentiment/ingest/",
        {
            "source": "Wire",
            "documents": [
                {"title": "Acme wins contract"},
                "oops",
                None,
                ["a list"],
                {"title": {"nested": 1}},
                {"title": "Odd date", "published_at": 1e20},
                {"title": "Acme shares plunge"},
            ],
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content[:300]
    body = response.json()
    assert body["created"] == 2
    errors = {e["line"]: e["error"] for e in body["errors"]}
    assert sorted(errors) == [2, 3, 4, 5, 6]
    assert errors[2] == "expected a document object, got a string"
    assert errors[3] == "expected a document object, got null"
    assert errors[4] == "expected a document object, got an array"
    assert "title" in errors[5] and "published_at" in errors[6]
    assert set(Document.objects.values_list("title", flat=True)) == {
        "Acme wins contract",
        "Acme shares plunge",
    }


def test_a_bare_json_array_is_a_batch(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    response = analyst_client.post(
        "/api/sentiment/ingest/",
        json.dumps([{"title": "Acme wins contract"}, 7, {"title": "Acme shares plunge"}]),
        content_type="application/json",
    )

    assert response.status_code == 201, response.content[:300]
    body = response.json()
    assert body["created"] == 2 and [e["line"] for e in body["errors"]] == [2]
    assert Source.objects.get(pk=body["source_id"]).name == "API"


# -- 3. tickers: normalised and "needs context" on every write path --------------------------------
def _matches(entity: Entity, text: str) -> bool:
    item = WatchItem(
        entity.pk, entity.name, entity.ticker, tuple(entity.aliases), entity.ticker_needs_context
    )
    return bool(entities_match(text, [item]))


def test_watchlist_page_sets_needs_context_for_an_everyday_word_ticker(analyst_client) -> None:  # type: ignore[no-untyped-def]
    response = analyst_client.post(
        reverse("sentiment:watchlist"),
        {"name": "Aion Intelligence", "ticker": "$ai", "aliases_text": "Aion", "active": "on"},
    )

    assert response.status_code == 302
    aion = Entity.objects.get()
    assert aion.ticker == "AI" and aion.ticker_needs_context
    assert not _matches(aion, "Why AI spending keeps rising")
    assert _matches(aion, "Shares of $AI jumped")


def test_watchlist_page_edit_keeps_the_analysts_choice_for_an_unchanged_ticker(  # type: ignore[no-untyped-def]
    analyst_client,
) -> None:
    aion = services.entity_upsert(name="Aion Intelligence", ticker="AI")
    assert aion.ticker_needs_context

    analyst_client.post(
        reverse("sentiment:watchlist_edit", args=[aion.pk]),
        {"name": "Aion Intelligence", "ticker": "AI", "aliases_text": "", "active": "on"},
    )
    aion.refresh_from_db()
    assert not aion.ticker_needs_context  # the analyst unticked it for the same ticker
    renamed = analyst_client.post(
        reverse("sentiment:watchlist_edit", args=[aion.pk]),
        {"name": "Aion AI Corp", "ticker": "now", "aliases_text": "", "active": "on"},
    )

    assert renamed.status_code == 302
    aion.refresh_from_db()
    # A new ticker (NOW, an everyday word) is decided again, whatever the box said.
    assert aion.name == "Aion AI Corp" and aion.ticker == "NOW" and aion.ticker_needs_context
    assert Entity.objects.count() == 1


def test_watchlist_api_update_normalises_the_ticker(analyst_client) -> None:  # type: ignore[no-untyped-def]
    acme = services.entity_upsert(name="Acme Corp", ticker="ACME")

    patched = analyst_client.patch(
        f"/api/sentiment/watchlist/{acme.pk}/", {"ticker": "$now"}, content_type="application/json"
    )
    bad = analyst_client.patch(
        f"/api/sentiment/watchlist/{acme.pk}/", {"ticker": "A B"}, content_type="application/json"
    )

    assert patched.status_code == 200 and patched.json()["ticker"] == "NOW"
    acme.refresh_from_db()
    assert acme.ticker == "NOW" and acme.ticker_needs_context
    assert not _matches(acme, "Act NOW before prices rise")
    assert _matches(acme, "Nasdaq: NOW fell 3%")
    assert bad.status_code == 400 and "ticker" in bad.json()


def test_watchlist_api_create_normalises_a_cashtag(analyst_client) -> None:  # type: ignore[no-untyped-def]
    response = analyst_client.post(
        "/api/sentiment/watchlist/",
        {"name": "Kestrel Airlines", "ticker": "$kstl", "active": False},
        content_type="application/json",
    )

    assert response.status_code == 201
    kestrel = Entity.objects.get()
    assert kestrel.ticker == "KSTL" and not kestrel.ticker_needs_context and not kestrel.active
    assert _matches(kestrel, "KSTL shares fell")


def test_admin_entity_form_normalises_and_sets_context(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(
        reverse("admin:sentiment_entity_add"),
        {"name": "Allmark Insurance", "ticker": "all", "aliases_text": "Allmark", "active": "on"},
    )

    assert response.status_code == 302, response.content[:500]
    allmark = Entity.objects.get()
    assert allmark.ticker == "ALL" and allmark.ticker_needs_context
    assert allmark.aliases == ["Allmark"]


def test_a_ticker_stored_before_normalising_still_matches() -> None:
    item = WatchItem(1, "Acme Corp", "acme", (), False)
    assert entities_match("ACME shares rose", [item])


# -- 4. feed URLs: http(s) only from users; file:// only for the bundled feeds ---------------------
@pytest.mark.parametrize("url", ["file:///etc/passwd", "/etc/passwd", "ftp://example.com/feed"])
def test_sources_page_refuses_a_non_http_feed_url(analyst_client, url: str) -> None:  # type: ignore[no-untyped-def]
    response = analyst_client.post(
        reverse("sentiment:sources"),
        {"name": "Sneaky", "kind": "rss", "url": url, "poll_interval_s": 900},
    )

    assert response.status_code == 200
    assert "must start with http:// or https://" in response.content.decode()
    assert not Source.objects.exists()


def test_sources_api_refuses_a_non_http_feed_url_on_create_and_update(analyst_client) -> None:  # type: ignore[no-untyped-def]
    created = analyst_client.post(
        "/api/sentiment/sources/",
        {"name": "Sneaky", "kind": "rss", "url": "file:///etc/passwd"},
        content_type="application/json",
    )
    feed = services.source_get_or_create(
        name="Wire", kind=Source.Kind.RSS, url="http://127.0.0.1:8000/rss"
    )
    patched = analyst_client.patch(
        f"/api/sentiment/sources/{feed.pk}/",
        {"url": "/etc/passwd"},
        content_type="application/json",
    )
    local_http = analyst_client.post(
        "/api/sentiment/sources/",
        {"name": "Local", "kind": "rss", "url": "http://127.0.0.1:8080/feed.xml"},
        content_type="application/json",
    )

    assert created.status_code == 400 and "http://" in created.json()["url"][0]
    assert patched.status_code == 400
    feed.refresh_from_db()
    assert feed.url == "http://127.0.0.1:8000/rss"
    # Loopback is an internal address: refused unless OUTBOUND_ALLOW_* names it (test_feeds.py).
    assert local_http.status_code == 400 and "not allowed" in local_http.json()["url"][0]


def test_admin_source_form_refuses_a_file_url(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(
        reverse("admin:sentiment_source_add"),
        {
            "name": "Sneaky",
            "kind": "rss",
            "url": "file:///etc/passwd",
            "language": "",
            "poll_interval_s": 900,
            "embedding_model": "minilm",
            "status": "new",
            "consecutive_failures": 0,
        },
    )

    assert response.status_code == 200
    assert "must start with http:// or https://" in response.content.decode()
    assert not Source.objects.exists()


def test_feed_fetch_reads_no_file_outside_the_bundled_feeds(tmp_path: Path) -> None:
    secret = tmp_path / "secret.rss"
    secret.write_text("<rss version='2.0'><channel><title>x</title></channel></rss>")

    with pytest.raises(FeedError, match="bundled"):
        feed_fetch(secret.as_uri())
    with pytest.raises(FeedError, match="unsupported URL scheme"):
        feed_fetch(str(secret))
    bundled = feed_fetch((BUNDLED_FEEDS / "demo_feed.xml").as_uri())
    assert b"<rss" in bundled.content


# -- 6. "Poll now" only for feeds ------------------------------------------------------------------
def test_poll_now_on_a_non_feed_source_changes_nothing(analyst_client) -> None:  # type: ignore[no-untyped-def]
    api_source = services.source_get_or_create(name="Pushes", kind=Source.Kind.API)

    response = analyst_client.post(reverse("sentiment:source_poll", args=[api_source.pk]))
    api = analyst_client.post(f"/api/sentiment/sources/{api_source.pk}/poll/")

    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == ["Pushes is not an RSS/Atom feed; only feeds are polled."]
    api_source.refresh_from_db()
    assert api_source.status == Source.Status.NEW and api_source.consecutive_failures == 0
    assert api_source.last_error == "" and api_source.last_polled_at is None
    assert api.status_code == 400


# -- 7. the admin bulk upload ----------------------------------------------------------------------
def test_admin_upload_into_an_unknown_source_is_a_404(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get(reverse("admin:sentiment_source_upload", args=[999999]))
    assert response.status_code == 404


def test_admin_upload_stores_good_rows_and_lists_bad_lines(admin_client, scorer) -> None:  # type: ignore[no-untyped-def]
    source = services.source_get_or_create(name="Archive", kind=Source.Kind.UPLOAD)
    content = (
        b"title,body,url\n"
        b"Acme wins contract,Big deal,https://n.example/a\n"
        b",,\n"
        b"Acme shares plunge,,ftp://n.example/b\n"
        b"Kestrel raises guidance,,https://n.example/c\n"
    )

    response = admin_client.post(
        reverse("admin:sentiment_source_upload", args=[source.pk]),
        {"file": _csv_upload("news.csv", content)},
        follow=True,
    )

    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert "2 stored, 0 known" in shown
    assert any(m.startswith("line 3: needs a title") for m in shown)
    assert any(m.startswith("line 4: url") for m in shown)
    assert set(Document.objects.filter(source=source).values_list("title", flat=True)) == {
        "Acme wins contract",
        "Kestrel raises guidance",
    }
