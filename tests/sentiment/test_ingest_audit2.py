"""Second ingestion audit: feed text and links as a reader would expect them, redirects,
Retry-After, oversized and slow feeds, bad stored URLs, the poll interval under a backlog, and
uploads as spreadsheets and exporters really write them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.sentiment import feeds, services, tasks
from apps.sentiment.feeds import FeedError, FetchResult, feed_fetch, feed_parse, feed_url_check
from apps.sentiment.models import Document, Source
from apps.sentiment.uploads import UploadError, documents_read

DATA = Path(__file__).parent / "data"
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


# -- feed text and links ---------------------------------------------------------------------------
def test_plain_text_titles_keep_what_they_say() -> None:
    _, items = feed_parse((DATA / "relative_links.rss").read_bytes())

    # Escaped angle brackets in a plain-text title are words, not tags to strip.
    assert items[0].title == "AT&T beats <estimates> as fibre sales rise"
    assert items[1].title == "Profit < forecast > guidance at Kestrel Airlines"
    # In an HTML description "<5%" is text too (a tag starts with a letter); real tags go.
    assert items[0].body == "Revenue grew <5% & margins held > 20%, the company said."
    assert items[1].body == "Kestrel Airlines missed its own forecast."


def test_relative_item_links_resolve_against_where_the_feed_was_read() -> None:
    content = (DATA / "relative_links.rss").read_bytes()

    _, fetched = feed_parse(content, base_url="https://mirror.example.net/feeds/wire.xml")
    _, fallback = feed_parse(content)

    assert fetched[0].url == "https://mirror.example.net/markets/att-q2"
    assert fetched[1].url == "https://mirror.example.net/feeds/markets/kestrel-profit"
    # Without the address it was read from, the feed's own <link> is the base.
    assert fallback[0].url == "https://wire.northbank.example/markets/att-q2"
    # An item without a guid is identified by its (absolute) link.
    assert fallback[1].external_id == "https://wire.northbank.example/markets/kestrel-profit"


def test_a_javascript_link_is_never_stored_or_shown(analyst_client) -> None:  # type: ignore[no-untyped-def]
    feed = services.source_get_or_create(
        name="Northbank", kind=Source.Kind.RSS, url="https://wire.northbank.example/rss"
    )
    content = (DATA / "relative_links.rss").read_bytes()

    result = services.source_poll(
        source_id=feed.pk, now=NOW, fetch=lambda url, **kw: FetchResult(False, content, "", "")
    )

    assert result.created == 3 and result.duplicates == 1  # the repeated item is stored once
    tip = Document.objects.get(title="Click here for a free stock tip")
    assert tip.url == ""
    page = analyst_client.get(reverse("sentiment:document", args=[tip.pk]))
    assert page.status_code == 200 and "javascript:" not in page.content.decode()


def test_two_feeds_with_the_same_relative_link_both_keep_their_items(db) -> None:  # type: ignore[no-untyped-def]
    def feed(title: str) -> bytes:
        return (
            "<rss version='2.0'><channel><title>x</title>"
            f"<item><title>{title}</title><link>/news/1</link></item></channel></rss>"
        ).encode()

    alpha = services.source_get_or_create(name="Alpha", kind=Source.Kind.RSS, url="https://a.ex/")
    beta = services.source_get_or_create(name="Beta", kind=Source.Kind.RSS, url="https://b.ex/")

    for source, title in ((alpha, "Acme wins contract"), (beta, "Kestrel cuts routes")):
        content = feed(title)
        services.source_poll(
            source_id=source.pk,
            now=NOW,
            fetch=lambda url, c=content, **kw: FetchResult(False, c, "", "", url),
        )

    assert sorted(Document.objects.values_list("url", flat=True)) == [
        "https://a.ex/news/1",
        "https://b.ex/news/1",
    ]


def test_the_charset_named_by_the_http_header_is_used() -> None:
    content = (
        "<rss version='2.0'><channel><title>Новости</title>"
        "<item><title>Газпром: прибыль растёт</title></item></channel></rss>"
    ).encode("koi8-r")

    _, items = feed_parse(content, content_type="application/rss+xml; charset=KOI8-R")

    assert items[0].title == "Газпром: прибыль растёт"


# -- fetching --------------------------------------------------------------------------------------
def _rss(title: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>W</title>"
        f"<item><title>{title}</title><link>story/1</link><guid>s-1</guid></item>"
        "</channel></rss>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def _send(self, code: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        soon = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
        routes = {
            "/old/feed.xml": lambda: self._send(301, Location="/new/feed.xml"),
            "/hop/feed.xml": lambda: self._send(302, Location="/new/feed.xml"),
            "/new/feed.xml": lambda: self._send(200, _rss("Acme wins contract")),
            "/busy": lambda: self._send(429, Retry_After="3600"),
            "/down": lambda: self._send(503, Retry_After=soon),
            "/huge": lambda: self._send(200, b"<rss>" + b" " * 4096 + b"</rss>"),
            "/count": lambda: self._send(200, _rss("Kestrel cuts routes")),
        }
        if self.path == "/slow":  # a server that never stops trickling
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            return
        routes.get(self.path, lambda: self._send(404))()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOW_NETWORKS = ["127.0.0.1/32"]  # the test server is on loopback
    _Handler.hits = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _feed_source(url: str, interval: int = 60) -> Source:
    return services.source_get_or_create(
        name="Wire", kind=Source.Kind.RSS, url=url, poll_interval_s=interval
    )


@pytest.mark.django_db
def test_a_permanent_redirect_moves_the_source_and_links_follow_it(server: str) -> None:
    moved = _feed_source(f"{server}/old/feed.xml")

    result = services.source_poll(source_id=moved.pk, now=NOW)

    moved.refresh_from_db()
    assert result.created == 1 and moved.status == Source.Status.OK
    assert moved.url == f"{server}/new/feed.xml"  # the next poll goes straight there
    assert Document.objects.get().url == f"{server}/new/story/1"


@pytest.mark.django_db
def test_a_temporary_redirect_keeps_the_source_url(server: str) -> None:
    hop = _feed_source(f"{server}/hop/feed.xml")

    services.source_poll(source_id=hop.pk, now=NOW)

    hop.refresh_from_db()
    assert hop.url == f"{server}/hop/feed.xml" and hop.status == Source.Status.OK


@pytest.mark.django_db
def test_retry_after_is_honoured_when_the_feed_says_slow_down(server: str) -> None:
    busy = _feed_source(f"{server}/busy", interval=60)

    result = services.source_poll(source_id=busy.pk, now=NOW)

    busy.refresh_from_db()
    assert result.status == Source.Status.FAILING
    assert "HTTP 429" in busy.last_error and "retry after 3600 s" in busy.last_error
    # Without it the back-off would try again after 2 minutes.
    assert busy.next_poll_at == NOW + timedelta(seconds=3600)
    with pytest.raises(FeedError) as dated:
        feed_fetch(f"{server}/down")
    assert dated.value.retry_after_s is not None
    assert 7100 <= dated.value.retry_after_s <= 7200  # an HTTP date two hours ahead


def test_an_oversized_feed_is_refused_not_cut_short(server: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(feeds, "MAX_FEED_BYTES", 1024)

    with pytest.raises(FeedError, match="sent more than"):
        feed_fetch(f"{server}/huge")


def test_a_feed_that_trickles_forever_stops_at_the_deadline(server: str) -> None:
    started = time.monotonic()

    with pytest.raises(FeedError, match=r"took longer than 0\.5 s"):
        feed_fetch(f"{server}/slow", deadline_s=0.5)

    assert time.monotonic() - started < 3


@pytest.mark.parametrize("url", ["http://[::1", "http://éxämple..com/feed", "http://h:99999/"])
def test_an_invalid_feed_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(FeedError, match="not a valid URL"):
        feed_url_check(url)
    with pytest.raises(FeedError, match="could not fetch"):  # stored before this check existed
        feed_fetch(url, deadline_s=2)


def test_the_sources_page_and_api_refuse_an_invalid_url_with_a_message(analyst_client) -> None:  # type: ignore[no-untyped-def]
    page = analyst_client.post(
        reverse("sentiment:sources"),
        {"name": "Broken", "kind": "rss", "url": "http://[::1/feed", "poll_interval_s": 900},
    )
    api = analyst_client.post(
        "/api/sentiment/sources/",
        {"name": "Broken", "kind": "rss", "url": "http://[::1/feed"},
        content_type="application/json",
    )

    assert page.status_code == 200 and "not a valid URL" in page.content.decode()
    assert api.status_code == 400 and "not a valid URL" in api.json()["url"][0]
    assert not Source.objects.exists()


@pytest.mark.django_db
def test_a_bad_url_already_stored_marks_the_source_failing() -> None:
    stored = _feed_source("http://[::1/feed")

    result = services.source_poll(source_id=stored.pk, now=NOW)

    stored.refresh_from_db()
    assert result.status == Source.Status.FAILING
    assert stored.status == Source.Status.FAILING and "not a valid URL" in stored.last_error
    assert stored.polling_since is None and stored.next_poll_at == NOW + timedelta(seconds=120)


@pytest.mark.django_db
def test_a_backlog_of_scheduled_polls_fetches_the_feed_once(server: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    feed = _feed_source(f"{server}/count", interval=900)
    queued: list[tuple[tuple[object, ...], dict[str, object]]] = []
    monkeypatch.setattr(tasks.source_poll_task, "delay", lambda *a, **kw: queued.append((a, kw)))

    # Beat ticks three times while the workers are busy elsewhere ...
    for _ in range(3):
        tasks.sources_poll_due_task()
    # ... then a worker gets to the queue.
    results = [tasks.source_poll_task(*args, **kwargs) for args, kwargs in queued]

    assert len(queued) == 3
    assert _Handler.hits == {"/count": 1}
    assert [r["status"] for r in results] == ["ok", "not due", "not due"]
    feed.refresh_from_db()
    assert feed.items_total == 1


@pytest.mark.django_db
def test_poll_now_still_polls_a_source_that_is_not_due(server: str) -> None:
    feed = _feed_source(f"{server}/count", interval=900)
    services.source_poll(source_id=feed.pk)

    again = tasks.source_poll_task(feed.pk)  # what the API's "poll" queues

    assert again["status"] == "ok" and _Handler.hits == {"/count": 2}


# -- uploads ---------------------------------------------------------------------------------------
def _upload(client, name: str, content: bytes):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/sentiment/upload/", {"file": SimpleUploadedFile(name, content), "source": "Bulk"}
    )


def test_a_windows_excel_csv_keeps_its_quotes_and_euro_sign(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = "title,body\nAcme’s profit rises to €5m,“Record” quarter\n".encode("cp1252")

    response = _upload(analyst_client, "excel.csv", content)

    assert response.status_code == 201, response.content[:300]
    doc = Document.objects.get()
    assert doc.title == "Acme’s profit rises to €5m" and doc.body == "“Record” quarter"


def test_an_excel_unicode_text_file_is_read(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = "title\tbody\nKestrel cuts routes\tFewer flights\n".encode("utf-16")

    response = _upload(analyst_client, "export.txt", content)

    assert response.status_code == 201, response.content[:300]
    assert Document.objects.get().title == "Kestrel cuts routes"


def test_a_semicolon_csv_is_read(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = (
        "\ufefftitle;body;url\n"
        "Acme wins contract;Worth 3,5 m EUR;https://n.example/a\n"
        "Kestrel cuts routes;;https://n.example/b\n"
    ).encode()

    response = _upload(analyst_client, "europe.csv", content)

    assert response.status_code == 201, response.content[:300]
    assert response.json()["created"] == 2 and response.json()["errors"] == []
    assert Document.objects.get(url="https://n.example/a").body == "Worth 3,5 m EUR"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("news.csv", b"", "The submitted file is empty"),  # Django's own check
        ("news.csv", "\ufeff\n".encode(), "the file is empty"),
        ("news.jsonl", b"\n  \n", "the file is empty"),
        ("news.csv", b"title,body\n", "holds no documents"),
        ("news.json", b"[]", "holds no documents"),
    ],
)
def test_an_empty_upload_is_a_400_with_a_reason(  # type: ignore[no-untyped-def]
    analyst_client, name: str, content: bytes, message: str
) -> None:
    response = _upload(analyst_client, name, content)

    assert response.status_code == 400
    assert message in str(response.json()["file"])


def test_jsonl_strings_may_hold_unicode_line_separators(scorer) -> None:  # type: ignore[no-untyped-def]
    content = (
        json.dumps({"title": "Acme wins\u2028contract", "body": "a\u0085b"}, ensure_ascii=False)
        + "\n"
        + json.dumps({"title": "Kestrel cuts routes"})
        + "\n"
    ).encode()

    rows, errors = documents_read(content, "news.jsonl")

    assert errors == []
    assert [(r.line, r.title) for r in rows] == [
        (1, "Acme wins\u2028contract"),
        (2, "Kestrel cuts routes"),
    ]


def test_a_json_array_export_is_read_and_bad_items_are_numbered(analyst_client, scorer) -> None:  # type: ignore[no-untyped-def]
    content = json.dumps(
        [{"title": "Acme wins contract"}, {"body": ""}, {"title": "Kestrel cuts routes"}],
        indent=2,
    ).encode()

    response = _upload(analyst_client, "export.json", content)

    assert response.status_code == 201, response.content[:300]
    assert response.json()["created"] == 2
    assert [e["line"] for e in response.json()["errors"]] == [2]


def test_a_broken_json_array_is_refused_as_a_whole() -> None:
    with pytest.raises(UploadError, match="not a valid JSON array"):
        documents_read(b'[\n  {"title": "Acme"},\n  {"title": \n]\n', "export.json")


def test_a_unix_timestamp_in_a_csv_is_a_date() -> None:
    rows, errors = documents_read(b"title,published_at\nAcme wins,1750000000\n", "news.csv")

    assert errors == []
    assert rows[0].published_at == datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)


def test_a_row_with_a_multi_line_body_is_reported_at_the_line_where_it_starts() -> None:
    content = (
        b"title,body,url\n"
        b'Acme wins contract,"First paragraph.\nSecond paragraph.\nThird.",ftp://n.example/a\n'
        b"Kestrel cuts routes,Fewer flights,ftp://n.example/b\n"
        b"\n"
        b"Orion beats estimates,,https://n.example/c\n"
    )

    rows, errors = documents_read(content, "news.csv")

    assert [e.line for e in errors] == [2, 5]
    assert [(r.line, r.title) for r in rows] == [(7, "Orion beats estimates")]
