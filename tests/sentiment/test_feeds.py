"""Feed parsing on real-world-shaped samples, conditional GET, and clear errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apps.sentiment import services
from apps.sentiment.feeds import FeedError, feed_fetch, feed_parse
from apps.sentiment.models import Document, Source
from tests.listener import Listener, listening, reply

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
