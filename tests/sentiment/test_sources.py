"""Managing sources: a feed given a new address or poll interval is polled afresh, and an invalid
feed address is refused with a message."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from apps.sentiment import services
from apps.sentiment.feeds import FetchResult
from apps.sentiment.models import Source
from tests.sentiment.factories import SourceFactory


def _failing_feed() -> Source:
    later = timezone.now() + timedelta(hours=20)
    return SourceFactory(
        name="Wire",
        kind="rss",
        url="https://old.example.com/rss",
        etag='"old-etag"',
        last_modified="Mon, 09 Jun 2025 10:00:00 GMT",
        status="failing",
        consecutive_failures=6,
        last_error="https://old.example.com/rss answered HTTP 404 Not Found",
        last_polled_at=timezone.now(),
        next_poll_at=later,
    )


def test_a_failing_feed_given_a_new_address_in_the_api_is_polled_afresh(analyst_client) -> None:  # type: ignore[no-untyped-def]
    source = _failing_feed()
    sent: dict[str, str] = {}

    def fetch(url: str, *, etag: str = "", last_modified: str = "") -> FetchResult:
        sent.update(url=url, etag=etag, last_modified=last_modified)
        return FetchResult(True, b"", etag, last_modified, url)

    response = analyst_client.patch(
        f"/api/sentiment/sources/{source.pk}/",
        {"url": "https://new.example.com/feed.xml"},
        content_type="application/json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "new" and body["next_poll_at"] is None
    assert body["consecutive_failures"] == 0 and body["last_error"] == ""
    # Due at the next beat, not in 20 hours; and the old feed's validators are not sent.
    assert source.pk in services.sources_due()
    services.source_poll(source_id=source.pk, fetch=fetch)
    assert sent == {"url": "https://new.example.com/feed.xml", "etag": "", "last_modified": ""}


def test_editing_a_feed_address_in_the_admin_clears_its_backoff(admin_client) -> None:  # type: ignore[no-untyped-def]
    source = _failing_feed()

    response = admin_client.post(
        reverse("admin:sentiment_source_change", args=[source.pk]),
        {
            "name": "Wire",
            "kind": "rss",
            "url": "https://new.example.com/feed.xml",
            "language": "",
            "poll_interval_s": 900,
            "embedding_model": "minilm",
        },
    )

    source.refresh_from_db()
    assert response.status_code == 302
    assert (source.url, source.status, source.next_poll_at) == (
        "https://new.example.com/feed.xml",
        "new",
        None,
    )
    assert (source.etag, source.last_modified, source.consecutive_failures) == ("", "", 0)


def test_a_shorter_poll_interval_brings_the_next_poll_forward(analyst_client) -> None:  # type: ignore[no-untyped-def]
    polled = timezone.now() - timedelta(minutes=10)
    source = SourceFactory(
        name="Daily",
        kind="rss",
        url="https://daily.example.com/rss",
        status="ok",
        poll_interval_s=86_400,
        last_polled_at=polled,
        next_poll_at=polled + timedelta(days=1),
        etag='"keep"',
    )

    analyst_client.patch(
        f"/api/sentiment/sources/{source.pk}/",
        {"poll_interval_s": 300},
        content_type="application/json",
    )

    source.refresh_from_db()
    assert source.next_poll_at == polled + timedelta(seconds=300)
    assert source.pk in services.sources_due()
    assert (source.status, source.etag) == ("ok", '"keep"')  # same address: validators stay


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
