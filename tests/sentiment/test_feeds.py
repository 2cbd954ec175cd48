"""Feeds: parsing real-world-shaped samples (plain-text titles, relative and javascript links, the
HTTP charset, NUL character references), fetching (conditional GET, redirects, Retry-After,
oversized and slow feeds, invalid and internal addresses), and polling under a backlog."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.urls import reverse

from apps.sentiment import feeds, services, tasks
from apps.sentiment.feeds import FeedError, FetchResult, feed_fetch, feed_parse, feed_url_check
from apps.sentiment.models import Document, Source
from tests.listener import Listener, listening, reply
from tests.sentiment.conftest import beat_entry

DATA = Path(__file__).parent / "data"


def test_rss_items_keep_title_body_link_time_and_language() -> None:
    kind, items = feed_parse((DATA / "reuters_like.rss").read_bytes())

    assert kind == "rss"
    assert next(i.title for i in items) == (
        "Helios Energy shares drop 9% after ‘disappointing’ output update"
    )
    first = items[0]
    assert first.body.startswith("Helios Energy (NASDAQ: HELI) cut its production forecast")
    assert "<p>" not in first.body
    assert first.published_at == datetime(2025, 6, 10, 8, 55, 10, tzinfo=UTC)
    assert first.language == "en"
    # Without a guid the link identifies the item; a +0200 date is normalised to UTC.
    assert items[2].external_id == "https://markets.example.org/macro/fed-minutes/"
    assert items[1].published_at == datetime(2025, 6, 10, 5, 30, tzinfo=UTC)


def test_atom_entries_use_content_and_updated_time() -> None:
    kind, items = feed_parse((DATA / "press_releases.atom").read_bytes())

    assert kind == "atom"
    assert items[0].title == "Orion Pharma reports record first-quarter sales"
    assert "Operating profit increased" in items[0].body
    assert items[0].external_id == "tag:ir.example.com,2025:press/1042"
    assert items[1].published_at == datetime(2025, 6, 9, 12, 0, tzinfo=UTC)
    assert items[1].url == "https://ir.example.com/press/1041"


@pytest.mark.parametrize(
    ("name", "message"),
    [("broken.rss", "not an RSS or Atom feed"), ("truncated.rss", "malformed feed")],
)
def test_malformed_feeds_raise_a_readable_error(name: str, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        feed_parse((DATA / name).read_bytes())


def test_empty_document_is_an_error() -> None:
    with pytest.raises(FeedError, match="empty"):
        feed_parse(b"   ")


class _FeedHandler(BaseHTTPRequestHandler):
    body = (DATA / "reuters_like.rss").read_bytes()
    seen_headers: list[dict[str, str]] = []

    def do_GET(self) -> None:
        self.seen_headers.append(dict(self.headers))
        if self.path == "/gone":
            self.send_response(410)
            self.end_headers()
            return
        if self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("ETag", '"v1"')
        self.send_header("Last-Modified", "Tue, 10 Jun 2025 09:12:44 GMT")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_server(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOW_NETWORKS = ["127.0.0.1/32"]  # the test server is on loopback
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FeedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_conditional_get_sends_validators_and_understands_304(feed_server: str) -> None:
    first = feed_fetch(f"{feed_server}/rss")
    second = feed_fetch(f"{feed_server}/rss", etag=first.etag, last_modified=first.last_modified)

    assert not first.not_modified and first.etag == '"v1"' and b"Helios" in first.content
    assert second.not_modified
    assert _FeedHandler.seen_headers[-1]["If-Modified-Since"] == "Tue, 10 Jun 2025 09:12:44 GMT"


def test_http_errors_and_unreachable_hosts_are_feed_errors(feed_server: str) -> None:
    with pytest.raises(FeedError, match="HTTP 410"):
        feed_fetch(f"{feed_server}/gone")
    with pytest.raises(FeedError, match="could not fetch"):
        feed_fetch("http://127.0.0.1:9/feed", deadline_s=2)
    with pytest.raises(FeedError, match="unsupported URL scheme"):
        feed_fetch("ftp://example.com/feed")


# -- the poller fetches public addresses only (issue 17, finding 5) -------------------------------
METRICS = b"# HELP secret_metric internal\nsecret_metric 42\n"


@pytest.fixture
def internal_service() -> Iterator[Listener]:
    """Stands for an internal service on the server's loopback (e.g. its own /metrics)."""
    boom = reply(500, METRICS, reason="secret_metric 42")  # a reason phrase is the server's too
    with listening({"/metrics": reply(200, METRICS), "/boom": boom}) as running:
        yield running


def test_an_analyst_cannot_add_a_feed_on_an_internal_address(  # type: ignore[no-untyped-def]
    analyst_client, internal_service: Listener
) -> None:
    response = analyst_client.post(
        "/api/sentiment/sources/",
        {"name": "Probe", "kind": "rss", "url": f"{internal_service.url}/metrics"},
        content_type="application/json",
    )

    assert response.status_code == 400 and "not allowed" in response.json()["url"][0]
    assert not Source.objects.filter(name="Probe").exists()
    assert internal_service.requests == []


@pytest.mark.django_db
def test_polling_a_stored_internal_address_fetches_nothing_and_stores_nothing(
    internal_service: Listener,
) -> None:
    # Stored before this check existed, or by a name that resolved elsewhere when it was saved.
    source = services.source_get_or_create(
        name="Probe", kind=Source.Kind.RSS, url=f"{internal_service.url}/metrics"
    )

    services.source_poll(source_id=source.pk)

    source.refresh_from_db()
    assert source.status == Source.Status.FAILING and "address not allowed" in source.last_error
    assert not Document.objects.exists()
    assert internal_service.requests == []


@pytest.mark.django_db
def test_a_feed_redirecting_to_an_internal_address_is_refused(  # type: ignore[no-untyped-def]
    internal_service: Listener, settings
) -> None:
    # The feed's host is allowed (as if public); "localhost" (the same machine) is not.
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    with listening(
        {"/feed.xml": reply(302, Location=f"http://localhost:{internal_service.port}/metrics")}
    ) as feed_host:
        source = services.source_get_or_create(
            name="Hop", kind=Source.Kind.RSS, url=f"{feed_host.url}/feed.xml"
        )
        services.source_poll(source_id=source.pk)

        assert feed_host.paths == ["/feed.xml"]
    source.refresh_from_db()
    assert "address not allowed" in source.last_error
    assert not Document.objects.exists()
    assert internal_service.requests == []


@pytest.mark.django_db
def test_last_error_never_shows_what_came_back(internal_service: Listener, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOW_NETWORKS = ["127.0.0.1/32"]
    for path in ("/boom", "/metrics"):  # an HTTP error, then a body that is not a feed
        source = services.source_get_or_create(
            name=path, kind=Source.Kind.RSS, url=f"{internal_service.url}{path}"
        )
        services.source_poll(source_id=source.pk)
        source.refresh_from_db()

        assert source.status == Source.Status.FAILING and source.last_error
        assert "secret_metric" not in source.last_error
    assert "HTTP 500" in Source.objects.get(name="/boom").last_error


NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


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


def test_the_charset_named_by_the_http_header_is_used() -> None:
    content = (
        "<rss version='2.0'><channel><title>Новости</title>"
        "<item><title>Газпром: прибыль растёт</title></item></channel></rss>"
    ).encode("koi8-r")

    _, items = feed_parse(content, content_type="application/rss+xml; charset=KOI8-R")

    assert items[0].title == "Газпром: прибыль растёт"


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


def test_a_feed_with_a_nul_character_reference_stores_its_items_without_it(db) -> None:  # type: ignore[no-untyped-def]
    content = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        b"<item><guid>a1</guid><title>Kestrel&#0; Airlines cuts routes</title>"
        b"<description>Capacity falls&amp;#0; by a tenth.</description></item>"
        b"</channel></rss>"
    )
    source = services.source_get_or_create(
        name="Wire", kind=Source.Kind.RSS, url="https://wire.example.com/rss"
    )

    _, items = feed_parse(content)
    result = services.source_poll(
        source_id=source.pk,
        fetch=lambda url, **_: FetchResult(False, content, "", "", url),
    )

    assert all("\x00" not in item.title + item.body for item in items)
    assert result.status == "ok" and result.created == 1
    assert "\x00" not in Document.objects.get().title


def test_beat_looks_for_due_feeds_at_the_configured_interval() -> None:
    entry = beat_entry("sentiment-poll-due-sources", SENTIMENT_POLL_DUE_S=5)

    assert entry["task"] == "apps.sentiment.tasks.sources_poll_due_task"
    assert entry["schedule"] == 5.0
